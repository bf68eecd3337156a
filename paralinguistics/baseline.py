"""A conversation's running picture of how this speaker usually sounds, so a turn can be read against it."""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import numpy as np

from .heads import softmax
from .labels import GENDERS
from .prosody import Style

MIN_TURNS = 3  # fewer turns than this (or less speech than MIN_SPEECH_S) say nothing relative
MIN_SPEECH_S = 4.0
# A voice's gender is settled once this many turns read together say it this surely (cross-validated on 28
# held-out speakers, 200 draws of three turns each: 94% settle, and 0.9997 of those are right, the worst
# speaker 0.992; at 0.9, 87% settle, all right, but real voices off the training corpora, such as the LibriVox
# reader, are often read at 0.85-0.9). The analyser then stops reading it, which saves the speaker embedding,
# most of a turn's analysis, unless a turn's pitch is this far from the speaker's usual toward the other
# gender's (higher for a man, lower for a woman: another voice on the line?). Both ways, acted emotional speech
# would be read again on 40% of its later turns; this way, 26%.
GENDER_SETTLED_TURNS = 3
GENDER_SETTLED_CONFIDENCE = 0.8
GENDER_RECHECK_PITCH_ST = 6.0

# (style field, how a turn is compared with the baseline, threshold, words for above / below)
MEASURES = (
    ("rate_syl_s", "ratio", 1.25, "faster", "slower"),
    ("loudness_dbfs", "diff", 6.0, "louder", "quieter"),
    ("pitch_st", "diff", 2.0, "higher", "lower"),
    ("pitch_range_st", "diff", 3.0, "livelier", "flatter"),
    ("tremor_st", "diff", 0.3, "shakier", "steadier"),
)


def _pitch_st(hz: float) -> float | None:
    return 12 * math.log2(hz / 100.0) if hz > 0 else None


@dataclass
class SpeakerBaseline:
    """Running means of the speaker's style over the conversation (thread-safe)."""
    turns: int = 0
    speech_s: float = 0.0
    _gender_log: np.ndarray | None = None  # summed log-probabilities of the gender head over the turns
    _gender_turns: int = 0
    _sums: dict[str, float] = field(default_factory=dict)
    _counts: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @staticmethod
    def _values(s: Style) -> dict[str, float]:
        v = {"rate_syl_s": s.rate_syl_s, "loudness_dbfs": s.loudness_dbfs, "pitch_range_st": s.pitch_range_st,
             "tremor_st": s.tremor_st}
        st = _pitch_st(s.pitch_hz)
        if st is not None:
            v["pitch_st"] = st
        return v

    def ready(self) -> bool:
        return self.turns >= MIN_TURNS and self.speech_s >= MIN_SPEECH_S

    def compare_and_update(self, s: Style) -> dict | None:
        """This turn against the turns before it (None until the baseline is ready); then learn from it."""
        values = self._values(s)
        with self._lock:
            rel = self._compare(values) if self.ready() else None
            self.turns += 1
            self.speech_s += s.speech_s
            for k, v in values.items():
                self._sums[k] = self._sums.get(k, 0.0) + v
                self._counts[k] = self._counts.get(k, 0) + 1
        return rel

    def gender_over_turns(self, probs) -> tuple[list[float], int]:
        """This turn's gender probabilities folded into the conversation's: the mean log-probability over every
        turn so far, renormalised. One voice is heard a turn at a time, and the head's errors are whole voices
        it is unsure of, so more turns help (`train.conversation_accuracy`)."""
        logp = np.log(np.maximum(np.asarray(probs, dtype=np.float64), 1e-9))
        with self._lock:
            self._gender_log = logp if self._gender_log is None else self._gender_log + logp
            self._gender_turns += 1
            return self._pooled_gender().tolist(), self._gender_turns

    def _pooled_gender(self) -> np.ndarray:
        return softmax(self._gender_log / self._gender_turns)

    def settled_gender(self, s: Style) -> tuple[list[float], int] | None:
        """The conversation's gender and its turns, if it is settled and this turn (`s`) sounds like the same
        voice; None when the gender should be read on this turn."""
        with self._lock:
            if self._gender_log is None or self._gender_turns < GENDER_SETTLED_TURNS:
                return None
            probs = self._pooled_gender()
            if probs.max() < GENDER_SETTLED_CONFIDENCE:
                return None
            st, n = _pitch_st(s.pitch_hz), self._counts.get("pitch_st", 0)
            if st is not None and n:
                shift = st - self._sums["pitch_st"] / n
                if (shift if probs.argmax() == GENDERS.index("male") else -shift) >= GENDER_RECHECK_PITCH_ST:
                    return None
            return probs.tolist(), self._gender_turns

    def _compare(self, values: dict[str, float]) -> dict:
        out: dict = {"turns": self.turns}
        for key, how, thr, up, down in MEASURES:
            if key not in values or not self._counts.get(key):
                continue
            mean = self._sums[key] / self._counts[key]
            if how == "ratio":
                change = values[key] / mean if mean > 0 else 1.0
                word = up if change >= thr else down if change <= 1 / thr else "usual"
            else:
                change = values[key] - mean
                word = up if change >= thr else down if change <= -thr else "usual"
            out[key] = {"change": round(change, 3), "vs_usual": word, "usual": round(mean, 3)}
        return out
