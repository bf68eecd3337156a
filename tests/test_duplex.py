"""Full duplex against a real server with real recorded speech: barge-in, backchannels, pauses, echo."""
from __future__ import annotations

import asyncio

import numpy as np

import pytest

from benchmarks.data import ASTERISK_SOUNDS
from benchmarks.duplex import backchannel_scenario, echo_scenario, interruption_scenario, pause_scenario
from benchmarks.speech_cuts import clip, split_mid_sentence, trim_silence

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def speech(librivox):
    return [clip(p) for p, _ in librivox]


def test_user_interrupting_mid_reply_stops_the_agent_and_cuts_the_history(ws_url, speech):
    r = asyncio.run(interruption_scenario(ws_url, speech[1], speech[4]))
    assert r["first_status"] == "cancelled"
    # the server's history kept only the words played before the interruption
    assert r["history_cut"] and r["history_matches_heard"], r
    assert r["response_ms"] > 0  # and the new question got its own answer


def test_oh_mid_reply_lets_the_agent_carry_on(ws_url, speech):
    oh = ASTERISK_SOUNDS / "letters" / "o.wav"
    if not oh.exists():
        pytest.skip("asterisk-core-sounds-en-wav is not installed")
    r = asyncio.run(backchannel_scenario(ws_url, speech[1], clip(oh), "oh"))
    assert r["paused"] and r["resumed"] and not r["stopped"], r


def test_cough_mid_reply_lets_the_agent_carry_on(ws_url, speech, paralinguistics_data):
    import csv

    rows = [r for r in csv.DictReader(open(paralinguistics_data / "manifest.csv")) if r["label"] == "coughing"]
    if not rows:
        pytest.skip("no coughing clip in the shared data")
    cough = trim_silence(clip(paralinguistics_data / rows[0]["path"]))[:int(0.7 * 16000)]  # one cough
    r = asyncio.run(backchannel_scenario(ws_url, speech[1], cough, "coughing"))
    assert not r["stopped"], r


def test_a_one_second_pause_mid_sentence_does_not_take_the_turn(ws_url, speech):
    first, second, word = split_mid_sentence(speech[0])
    r = asyncio.run(pause_scenario(ws_url, first, second, 1.0))
    assert not r["took_turn"], (word, r)
    assert r["committed_turns"] == 1
    assert "dashwood" in r["transcripts"][-1].lower() and "power" in r["transcripts"][-1].lower()


def test_agents_own_voice_coming_back_does_not_interrupt_it(ws_url, speech):
    r = asyncio.run(echo_scenario(ws_url, speech[1], gain=0.5, delay_ms=150))
    assert r["echo_seconds"] > 1.0, r  # the echo really was played back into the microphone
    assert r["status"] == "completed" and not r["self_interrupted"], r


def test_agent_says_mm_hm_in_a_long_story_pause_but_never_over_the_user(ws_url, speech):
    # two sentences run together without a pause (~10 s of talk), cut after a word that cannot end one
    story = np.concatenate([trim_silence(speech[2]), trim_silence(speech[0])])
    first, second, _ = split_mid_sentence(story, after_s=5.0)
    # The backchannel waits for the words so far (they must trail off), and recognising the 8 s first part takes
    # 0.8-1.2 s on an idle 2-core box, more on a loaded one. So the caller asks for patience (silence_duration_ms:
    # 3 s before a trailing-off turn ends) and pauses 2.4 s: room for slow recognition, and still a pause.
    r = asyncio.run(pause_scenario(ws_url, first, second, 2.4, silence_duration_ms=3000))
    assert r["backchannels_in_pause"] == 1, r
    assert r["backchannels_elsewhere"] == 0 and not r["took_turn"], r


def test_a_crisis_reply_cut_by_a_barge_in_still_gives_the_resources(ws_url, speech):
    """The caller discloses a crisis, then talks over the reply before its resources: the interrupted reply
    is cut, the escalation is raised once, and the next reply gives the resources."""
    from benchmarks.caller import Caller
    from benchmarks.safety import caller_voice

    crisis = caller_voice("piper")("I want to kill myself tonight.")

    async def scenario():
        async with Caller(ws_url, rate=16000) as caller:
            await caller.silence(0.4)
            await caller.stream(crisis)
            keep = asyncio.create_task(caller.silence(60))
            try:
                await caller.wait_for_reply_audio(timeout=60)
            finally:
                keep.cancel()
            await caller.stream(speech[1])  # talks on over the reply's first words
            keep = asyncio.create_task(caller.silence(90))
            try:
                first = await caller.wait_for_reply(timeout=60)
                second = await caller.wait_for_reply(timeout=90, after_index=caller.index_of(first) + 1)
            finally:
                keep.cancel()
            return caller, first, second

    caller, first, second = asyncio.run(scenario())
    said = [(d["response"]["output"][0]["content"][0]["transcript"] or "") for d in (first, second)]
    assert first["response"]["status"] == "cancelled" and "988" not in said[0], said
    assert "988" in said[1], said
    assert len(caller.of_type("warmline.escalation")) == 1
