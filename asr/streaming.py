"""Streaming partial transcripts with one policy: LocalAgreement-2 (ufal's whisper_streaming).

While the user speaks, the growing turn is transcribed again every `min_step_s`. A word is trusted
(committed) once two consecutive hypotheses agree on it and on every word before it: the longest
common word prefix of the last two hypotheses is committed, and committed words are never taken
back (their case and punctuation follow the newest hypothesis). The rest of the newest hypothesis
is tentative: shown, but liable to change. Words are compared without case and punctuation, since
Whisper re-punctuates as the context grows. The whole turn is transcribed each time, so the cost of
an update grows with the turn (a turn is at most 30 s); a slow update simply means the next one sees
more new audio.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import numpy as np

from asr.base import SAMPLE_RATE, Recognizer


@dataclass(frozen=True)
class Partial:
    committed: str  # stable: only ever grows during a turn
    tentative: str  # the newest hypothesis past the committed words

    @property
    def text(self) -> str:
        return " ".join(t for t in (self.committed, self.tentative) if t)


def _key(word: str) -> str:
    return re.sub(r"[^\w']", "", word.lower())


class PartialTranscriber:
    """LocalAgreement-2 over re-transcriptions of one growing turn; `reset()` between turns."""

    def __init__(self, recognizer: Recognizer, *, min_step_s: float = 0.5) -> None:
        if min_step_s < 0:
            raise ValueError(f"min_step_s must be >= 0, got {min_step_s}")
        self.recognizer, self.min_step_s = recognizer, min_step_s
        self.reset()

    def reset(self) -> None:
        self._committed: list[str] = []
        self._previous: list[str] = []
        self._heard = 0  # samples transcribed last time
        self._partial = Partial("", "")

    def update(self, audio_so_far: np.ndarray, *, cancel: threading.Event | None = None) -> Partial:
        """The partial transcript of the turn so far (16 kHz float32 mono, from the turn's start)."""
        audio = np.asarray(audio_so_far)
        if audio.ndim != 1:
            raise ValueError(f"audio must be mono 1-D samples at 16 kHz, got shape {audio.shape}")
        if len(audio) < self._heard:
            raise ValueError("audio_so_far is shorter than before: call reset() when a new turn starts")
        if len(audio) - self._heard < self.min_step_s * SAMPLE_RATE or len(audio) == self._heard:
            return self._partial
        words = self.recognizer.transcribe(audio, cancel=cancel).text.split()
        self._heard = len(audio)
        agreed = 0
        for a, b in zip(self._previous, words):
            if _key(a) != _key(b):
                break
            agreed += 1
        self._previous = words
        end = _end_of(self._committed, words)
        if end is None:  # the hypothesis rewrote a committed word: commit nothing on it
            tentative = _after_last(self._committed, words)
        else:
            # Same words, newest spelling: Whisper re-punctuates ("how." -> "how") as the turn grows.
            self._committed = words[:max(end, agreed)]
            end = len(self._committed)
            tentative = words[end:]
        self._partial = Partial(" ".join(self._committed), " ".join(tentative))
        return self._partial


def _end_of(committed: list[str], words: list[str]) -> int | None:
    """Index in `words` where the committed words end, matched letter by letter so that a word that was
    split or joined since ("ill-disposed" / "ill disposed") still lines up; None if they differ."""
    target = "".join(_key(w) for w in committed)
    joined = ""
    for i, w in enumerate(words):
        if joined == target:
            return i
        joined += _key(w)
        if not target.startswith(joined):
            return None
    return len(words) if joined == target else None


def _after_last(committed: list[str], words: list[str]) -> list[str]:
    """The new hypothesis rewrote committed words: show what follows the last committed word it still has."""
    keys = [_key(w) for w in words]
    last = _key(committed[-1]) if committed else ""
    for i in range(len(keys) - 1, -1, -1):
        if keys[i] == last:
            return words[i + 1:]
    return words[len(committed):]
