"""The duplex policies on their own: endpointing, interruption, backchannels, echo."""
import numpy as np
import pytest

from benchmarks.caller import load_clip
from server.audio import resample
from server.backchannel import BackchannelPlanner, tone_for
from server.echo import EchoDetector
from server.endpointing import Endpointer, completeness
from server.formats import ulaw_decode, ulaw_encode
from server.interruption import InterruptionPolicy, Overlap, is_backchannel


@pytest.mark.parametrize("text,expected", [
    ("Can you help me with my rent?", "complete"),
    ("I went to the store and", "incomplete"),
    ("I went to the store, and then, um", "incomplete"),
    ("because my", "incomplete"),
    ("That is all.", "complete"),
    ("hello there", "unknown"),
    ("", "unknown"),
    # a word that may end a sentence only where something points back to it: probably finished, middle wait
    ("He was taller than he was.", "unknown"),
    ("Who are you talking to?", "unknown"),
    ("There's nobody I can count on.", "unknown"),
    ("I really miss her.", "complete"),
    ("Thank you.", "complete"),
    # ... and where nothing does, or the sentence announces what it has not said yet: unfinished
    ("I want to talk to.", "incomplete"),
    ("I think the problem is.", "incomplete"),
    ("How much there might be.", "incomplete"),
    ("Can you tell me how to?", "incomplete"),
    ("My sister and her.", "incomplete"),
    ("Actually.", "incomplete"),
])
def test_completeness(text, expected):
    assert completeness(text) == expected


def test_endpointer_waits_longer_for_unfinished_words():
    e = Endpointer(complete_ms=300, unknown_ms=700, incomplete_ms=1600)
    assert e.required_silence_ms("Where is the station?") == 300
    assert e.required_silence_ms("I was thinking that maybe") == 700
    assert e.required_silence_ms("I was thinking that") == 1600
    assert e.required_silence_ms(None) == 700


@pytest.mark.parametrize("words,yes", [("Mm-hm.", True), ("yeah", True), ("Oh, okay.", True), ("I see.", True),
                                       ("Wait, stop.", False), ("Can I ask something?", False)])
def test_backchannel_words(words, yes):
    assert is_backchannel(words) is yes


def test_interruption_policy():
    p = InterruptionPolicy(max_backchannel_ms=900)
    assert p.decide(Overlap(0, speech_ms=300)) == "wait"
    assert p.decide(Overlap(0, speech_ms=1000)) == "interrupt"
    assert p.decide(Overlap(0, speech_ms=400, ended=True, transcript="Mm-hm.", silent_ms=400)) == "resume"
    assert p.decide(Overlap(0, speech_ms=400, ended=False, transcript="Yeah")) == "wait"
    assert p.decide(Overlap(0, speech_ms=500, ended=True, transcript="Stop please")) == "interrupt"
    assert p.decide(Overlap(0, speech_ms=500, ended=True, transcript="", events=["coughing"], silent_ms=400)) == "resume"
    assert p.decide(Overlap(0, speech_ms=500, ended=True, transcript="", silent_ms=400)) == "resume"
    # a false vocal event must not swallow a real interruption (seen in the duplex benchmark)
    assert p.decide(Overlap(0, speech_ms=480, ended=False, transcript="Please try.", events=["yawning"])) == "interrupt"
    assert p.decide(Overlap(0, speech_ms=600, ended=True, transcript="Ha.", events=["laughing"], silent_ms=400)) == "resume"


def test_the_agent_carries_on_only_after_a_little_silence_follows_the_sound():
    """A first syllable too short to hear words in, then a breath: the caller may be taking the floor (seen in CI:
    the reply resumed over the rest of the sentence)."""
    p = InterruptionPolicy(max_backchannel_ms=900, resume_after_ms=400)
    for heard in ("", "Mm-hm."):
        assert p.decide(Overlap(0, speech_ms=300, ended=True, transcript=heard, silent_ms=160)) == "wait"
        assert p.decide(Overlap(0, speech_ms=300, ended=True, transcript=heard, silent_ms=400)) == "resume"
    assert p.decide(Overlap(0, speech_ms=300, ended=True, transcript="Ha.", events=["laughing"], silent_ms=200)) == "wait"
    assert p.decide(Overlap(0, speech_ms=300, ended=True, transcript="Stop there", silent_ms=0)) == "interrupt"


def test_backchannel_planner_only_in_long_unfinished_turns_and_not_too_often():
    b = BackchannelPlanner(min_turn_ms=4000, pause_ms=450, min_gap_ms=5000)
    assert not b.should_backchannel(now_ms=3000, turn_speech_ms=2500, pause_ms=500, completeness="incomplete")
    assert not b.should_backchannel(now_ms=6000, turn_speech_ms=5000, pause_ms=100, completeness="incomplete")
    assert not b.should_backchannel(now_ms=6000, turn_speech_ms=5000, pause_ms=500, completeness="complete")
    assert b.should_backchannel(now_ms=6000, turn_speech_ms=5000, pause_ms=500, completeness="incomplete")
    assert not b.should_backchannel(now_ms=8000, turn_speech_ms=7000, pause_ms=500, completeness="incomplete")
    assert not b.should_backchannel(now_ms=12000, turn_speech_ms=11000, pause_ms=500, completeness="unknown")
    assert b.should_backchannel(now_ms=12000, turn_speech_ms=11000, pause_ms=500, completeness="incomplete")
    assert tone_for({"emotion": {"label": "sad"}}) == "gentle" and tone_for(None) == "warm"


def _echo_scores(librivox, mic_of, *, delay_ms=150, codec=False):
    played = load_clip(librivox[1][0])
    e = EchoDetector()
    ref = resample(played, 16000, 24000)
    for k in range(0, len(ref), 2400):
        e.add_reference(ref[k:k + 2400], 24000, 1000 + k / 24)
    mic = mic_of(played)
    scores = []
    for k in range(0, len(mic), 512):
        m = mic[k:k + 512].astype(np.float32)
        if codec:
            m = ulaw_decode(ulaw_encode(m))
        e.add_mic(m, 16000, 1000 + delay_ms + (k + len(m)) / 16)
        if k // 512 % 15 == 14:
            scores.append(e.score())
    return scores


def test_echo_of_the_agent_is_recognised_even_through_mu_law(librivox):
    rng = np.random.default_rng(0)
    scores = _echo_scores(librivox, lambda p: 0.4 * p + 0.005 * rng.standard_normal(len(p)), codec=True, delay_ms=400)
    assert min(scores) > 0.8


def test_another_voice_is_not_echo(librivox):
    other = load_clip(librivox[3][0])
    scores = _echo_scores(librivox, lambda p: other[: len(p)])
    assert max(scores) < 0.5
    mixed = _echo_scores(librivox, lambda p: 0.5 * p + other[: len(p)])
    assert np.median(mixed) < 0.55  # the user talking over the echo is not dismissed as echo
