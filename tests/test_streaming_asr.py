"""LocalAgreement-2 partial transcripts: on real speech with Whisper, and the policy on scripted hypotheses."""
from __future__ import annotations

import numpy as np
import pytest

from asr.base import Transcript
from asr.streaming import Partial, PartialTranscriber
from asr.whisper import WhisperRecognizer
from benchmarks.asr import librivox
from benchmarks.metrics import normalise
from server.models import ModelMissing, resolve

CLIPS = librivox()


@pytest.fixture(scope="module")
def tiny() -> WhisperRecognizer:
    try:
        return WhisperRecognizer(resolve("whisper-tiny.en"), threads=2)
    except ModelMissing as exc:
        pytest.skip(str(exc))


class Counting:
    """A real recogniser that counts its calls."""

    def __init__(self, inner) -> None:
        self.inner, self.calls, self.name = inner, 0, inner.name

    def transcribe(self, audio, *, cancel=None):
        self.calls += 1
        return self.inner.transcribe(audio, cancel=cancel)


@pytest.mark.skipif(not CLIPS, reason="Debian pocketsphinx-testdata is not installed")
@pytest.mark.parametrize("index", [0, 3])
def test_committed_grows_monotonically_and_ends_as_prefix_of_final(tiny, index):
    audio = CLIPS[index].audio
    rec = Counting(tiny)
    partials = PartialTranscriber(rec, min_step_s=0.5)
    history: list[Partial] = []
    for end in range(8000, len(audio) + 1, 8000):  # 0.5 s steps; the last one is whole
        history.append(partials.update(audio[:end]))
    history.append(partials.update(audio))  # the final < 0.5 s is not transcribed again
    committed = [normalise(p.committed) for p in history]
    for before, after in zip(committed, committed[1:]):
        assert after[: len(before)] == before
    final = normalise(tiny.transcribe(audio).text)
    assert committed[-1] == final[: len(committed[-1])]
    assert len(committed[-1]) >= len(final) // 2  # most of the turn is committed before it ends
    assert history[-1] == history[-2]
    assert rec.calls == len(history) - 1


@pytest.mark.skipif(not CLIPS, reason="Debian pocketsphinx-testdata is not installed")
def test_updates_closer_than_min_step_reuse_the_last_hypothesis(tiny):
    audio = CLIPS[1].audio
    rec = Counting(tiny)
    partials = PartialTranscriber(rec, min_step_s=0.5)
    first = partials.update(audio[:16000])
    assert partials.update(audio[:16000 + 3200]) is first  # +0.2 s
    assert rec.calls == 1
    partials.update(audio[:16000 + 8000])
    assert rec.calls == 2


class Scripted:
    """Hypotheses given in advance: exercises the agreement policy alone."""

    name = "scripted"

    def __init__(self, texts: list[str]) -> None:
        self.texts = iter(texts)

    def transcribe(self, audio, *, cancel=None) -> Transcript:
        return Transcript(next(self.texts))


def feed(texts: list[str]) -> list[Partial]:
    partials = PartialTranscriber(Scripted(texts), min_step_s=0.5)
    return [partials.update(np.zeros(8000 * (i + 1), np.float32)) for i in range(len(texts))]


def test_commits_the_longest_common_prefix_of_the_last_two_hypotheses():
    out = feed(["He was", "He was not a", "He was not an ill", "He was not an ill-disposed young man."])
    assert [p.committed for p in out] == ["", "He was", "He was not", "He was not an"]
    assert [p.tentative for p in out] == ["He was", "not a", "an ill", "ill-disposed young man."]


def test_punctuation_and_case_changes_still_agree():
    out = feed(["hello there", "Hello, there. How", "Hello there, how are you"])
    assert out[1].committed == "Hello, there."
    assert out[2].committed == "Hello there, how"  # newest punctuation, same words


def test_committed_words_are_never_taken_back():
    out = feed(["I am sad", "I am sad today", "I'm so sad today", "I'm so sad today really"])
    assert out[1].committed == "I am sad"
    # The third hypothesis rewrote committed words: nothing new is committed, nothing is withdrawn.
    assert out[2].committed == "I am sad" and out[2].tentative == "today"
    assert out[3].committed == "I am sad"


def test_a_word_split_after_commit_still_lines_up():
    out = feed(["not an ill-disposed", "not an ill-disposed young", "not an ill disposed young man", "not an ill disposed young man."])
    assert out[1].committed == "not an ill-disposed"
    assert out[2].tentative == "young man"
    assert out[3].committed == "not an ill disposed young man."


def test_reset_and_bad_input():
    partials = PartialTranscriber(Scripted(["a b", "a b c", "x"]), min_step_s=0.5)
    partials.update(np.zeros(8000, np.float32))
    partials.update(np.zeros(16000, np.float32))
    with pytest.raises(ValueError, match="reset"):
        partials.update(np.zeros(8000, np.float32))
    partials.reset()
    assert partials.update(np.zeros(8000, np.float32)) == Partial("", "x")
    with pytest.raises(ValueError):
        partials.update(np.zeros((2, 8000), np.float32))
    with pytest.raises(ValueError):
        PartialTranscriber(Scripted([]), min_step_s=-1)
