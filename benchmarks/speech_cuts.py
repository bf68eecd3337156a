"""Real recordings cut at real word boundaries (Whisper word timestamps), for turn-taking scenarios."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from benchmarks.caller import load_clip

RATE = 16000


@lru_cache(maxsize=1)
def _word_model():
    from faster_whisper import WhisperModel

    from server.models import resolve

    return WhisperModel(resolve("whisper-base"), device="cpu", compute_type="int8", cpu_threads=2)


def words_with_times(audio: np.ndarray) -> list[tuple[str, float, float]]:
    segments, _ = _word_model().transcribe(audio, language="en", word_timestamps=True, beam_size=1)
    return [(w.word.strip(), w.start, w.end) for s in segments for w in (s.words or [])]


def split_mid_sentence(audio: np.ndarray, *, prefer: set[str] | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """Cut an utterance between two words near its middle, preferably after a word that cannot end a
    sentence ("be", "to", "and"), so the first part is audibly unfinished. Returns (first, second, cut word)."""
    from server.endpointing import NON_FINAL

    prefer = prefer or NON_FINAL
    words = words_with_times(audio)
    if len(words) < 4:
        raise ValueError("utterance too short to cut mid-sentence")
    candidates = range(1, len(words) - 2)
    mid = len(words) / 2
    ranked = sorted(candidates, key=lambda i: (words[i][0].lower().strip(".,?!") not in prefer, abs(i - mid)))
    i = ranked[0]
    cut = min(words[i][2] + 0.03, words[i + 1][1])
    k = int(cut * RATE)
    return audio[:k], audio[k:], words[i][0]


def last_word(audio: np.ndarray) -> np.ndarray:
    """The last word of a clip (e.g. "yes" from TESS's "Say the word yes"), with 50 ms margins."""
    words = words_with_times(audio)
    if not words:
        raise ValueError("no words found")
    _, start, end = words[-1]
    return audio[max(0, int((start - 0.05) * RATE)): int((end + 0.05) * RATE)]


def speech_onset_s(audio: np.ndarray, *, threshold_db: float = -35) -> float:
    """Where speech energy first rises within `threshold_db` of the clip's peak (10 ms frames)."""
    hop = RATE // 100
    n = len(audio) // hop
    if n == 0:
        return 0.0
    energy = 10 * np.log10((audio[: n * hop].reshape(n, hop) ** 2).mean(axis=1) + 1e-12)
    above = np.nonzero(energy > energy.max() + threshold_db)[0]
    return float(above[0]) * hop / RATE if above.size else 0.0


def clip(path) -> np.ndarray:
    return load_clip(path, RATE)
