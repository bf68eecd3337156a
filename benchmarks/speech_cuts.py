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


# Short function words that cannot end a sentence; cutting right after one leaves an audibly unfinished phrase.
CUT_AFTER = {"to", "and", "the", "a", "of", "because", "but", "or", "my", "in", "his", "her", "for", "with"}


def split_mid_sentence(audio: np.ndarray, *, prefer: set[str] | None = None, after_s: float = 0.0
                       ) -> tuple[np.ndarray, np.ndarray, str]:
    """Cut an utterance between two words near its middle (and after `after_s`), preferably after a word
    that cannot end a sentence, so the first part is audibly unfinished. Returns (first, second, cut word)."""
    prefer = prefer or CUT_AFTER
    words = [w for w in words_with_times(audio)]
    if len(words) < 4:
        raise ValueError("utterance too short to cut mid-sentence")
    candidates = [i for i in range(1, len(words) - 2) if words[i][2] > after_s] or list(range(1, len(words) - 2))
    mid = len(words) / 2
    ranked = sorted(candidates, key=lambda i: (words[i][0].lower().strip(".,?!") not in prefer, abs(i - mid)))
    i = ranked[0]
    cut = min(words[i][2] + 0.03, words[i + 1][1])
    k = int(cut * RATE)
    return audio[:k], audio[k:], words[i][0]


def trim_silence(audio: np.ndarray, *, threshold_db: float = -35) -> np.ndarray:
    """Drop leading and trailing silence, so clips joined together sound like one breath."""
    start = int(speech_onset_s(audio, threshold_db=threshold_db) * RATE)
    end = len(audio) - int(speech_onset_s(audio[::-1].copy(), threshold_db=threshold_db) * RATE)
    return audio[start:end]


def last_word(audio: np.ndarray) -> np.ndarray:
    """The last word of a clip (e.g. "yes" from TESS's "Say the word yes"), with 120 ms after its end (the word end is loose too: a final "s" of "nice" was lost at 50).
    Whisper's word start is loose by ~0.1 s: cut at the quietest 10 ms within 150 ms of it, or the tail of
    the word before leaks in (Whisper then hears "very good" or "good night" for "good" or "nice")."""
    words = words_with_times(audio)
    if not words:
        raise ValueError("no words found")
    _, start, end = words[-1]
    hop = RATE // 100
    lo, hi = max(0, int((start - 0.15) * RATE)), min(len(audio), int((start + 0.15) * RATE))
    frames = audio[lo: lo + (hi - lo) // hop * hop].reshape(-1, hop)
    cut = lo + int(np.argmin((frames ** 2).mean(axis=1))) * hop if len(frames) else max(0, int(start * RATE))
    return audio[cut: int((end + 0.12) * RATE)]


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
