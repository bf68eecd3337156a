"""From a clause's raw audio to what is sent: trim, pitch, loudness, edges, pause, and ~100 ms chunks."""
from __future__ import annotations

import numpy as np

from .pitch import PsolaShifter
from .profiles import Prosody

FADE_MS = 4.0


def trim_silence(x: np.ndarray, sr: int, *, floor_db: float = -45.0, keep_ms: float = 15.0) -> np.ndarray:
    """Cut leading and trailing silence (relative to the clause's peak), keeping a short margin."""
    if x.size == 0:
        return x
    frame = max(1, int(sr * 0.005))
    n = x.size // frame
    if n == 0:
        return x
    energy = np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1))
    loud = np.nonzero(energy > (energy.max() * 10 ** (floor_db / 20)) + 1e-7)[0]
    if loud.size == 0:
        return x[:0]
    keep = int(sr * keep_ms / 1000)
    return x[max(0, loud[0] * frame - keep): min(x.size, (loud[-1] + 1) * frame + keep)]


def limit(x: np.ndarray, threshold: float = 0.9) -> np.ndarray:
    """Soft-knee peak limiter: leaves everything under `threshold` untouched, never exceeds 1."""
    over = np.abs(x) > threshold
    if not over.any():
        return x
    y = x.copy()
    a = np.abs(x[over]) - threshold
    y[over] = np.sign(x[over]) * (threshold + (1 - threshold) * np.tanh(a / (1 - threshold)))
    return y


def fade_edges(x: np.ndarray, sr: int, ms: float = FADE_MS) -> np.ndarray:
    n = min(int(sr * ms / 1000), x.size // 2)
    if n < 2:
        return x
    ramp = (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n))).astype(np.float32)
    y = x.copy()
    y[:n] *= ramp
    y[-n:] *= ramp[::-1]
    return y


def ends_sentence(text: str) -> bool:
    return text.rstrip(" \"')]\u201d").endswith((".", "!", "?", "\u2026"))


class ClauseRenderer:
    """Applies a Prosody's pitch, energy and pause to one clause of a voice's raw output."""

    def __init__(self, sample_rate: int, shifter: PsolaShifter | None = None) -> None:
        self.sample_rate = sample_rate
        self.shifter = shifter or PsolaShifter(sample_rate)

    def __call__(self, raw: np.ndarray, prosody: Prosody, *, text: str = "", pitch: bool = True) -> np.ndarray:
        sr = self.sample_rate
        x = trim_silence(np.asarray(raw, dtype=np.float32).reshape(-1), sr)
        if pitch and prosody.changes_pitch:
            x = self.shifter(x, semitones=prosody.pitch_semitones, range_factor=prosody.pitch_range)
        if prosody.energy_db:
            x = limit(x * np.float32(10 ** (prosody.energy_db / 20)))
        x = fade_edges(x, sr)
        pause_ms = prosody.pause_sentence_ms if ends_sentence(text) else prosody.pause_clause_ms
        return np.concatenate([x, np.zeros(int(sr * pause_ms / 1000), np.float32)]).astype(np.float32)


def chunk_audio(x: np.ndarray, sr: int, *, chunk_ms: float = 100.0, min_ms: float = 60.0) -> list[np.ndarray]:
    """Cut into chunks of `chunk_ms`; a remainder shorter than `min_ms` joins the chunk before it."""
    size, small = max(1, int(sr * chunk_ms / 1000)), int(sr * min_ms / 1000)
    bounds = list(range(0, x.size, size))
    if len(bounds) > 1 and x.size - bounds[-1] < small:
        bounds.pop()
    return [x[a:b] for a, b in zip(bounds, bounds[1:] + [x.size])] if x.size else []
