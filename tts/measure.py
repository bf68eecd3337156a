"""Prosody measured on output audio: what the benchmark and tests compare between emotions."""
from __future__ import annotations

import numpy as np

from .pitch import FMAX, track_f0


def active_frames(x: np.ndarray, sr: int, *, frame_ms: float = 10.0, floor_db: float = -35.0) -> np.ndarray:
    frame = int(sr * frame_ms / 1000)
    n = x.size // frame
    if n == 0:
        return np.zeros((0, frame), np.float32)
    frames = x[: n * frame].reshape(n, frame)
    energy = np.sqrt(np.mean(frames**2, axis=1))
    return frames[energy > energy.max() * 10 ** (floor_db / 20)]


def prosody_features(x: np.ndarray, sr: int, *, f0_max_hz: float = FMAX) -> dict[str, float]:
    """f0_median_hz, f0_range_st (spread of pitch in semitones), speech_s (sounding time, pauses left out),
    rms_db (loudness of the sounding frames). `f0_max_hz`: the highest pitch tracked (a voice's `f0_max_hz`)."""
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    f0, _ = track_f0(x, sr, fmax=f0_max_hz)
    voiced = f0[f0 > 0]
    active = active_frames(x, sr)
    return {
        "f0_median_hz": float(np.median(voiced)) if voiced.size else float("nan"),
        # Interquartile spread (as a std equivalent): robust to the tracker's occasional octave errors.
        "f0_range_st": float(np.subtract(*np.percentile(12 * np.log2(voiced), [75, 25])) / 1.349)
        if voiced.size > 3 else float("nan"),
        "speech_s": active.shape[0] * 0.01,
        "rms_db": float(20 * np.log10(np.sqrt(np.mean(active**2)) + 1e-12)) if active.size else float("-inf"),
    }


def max_join_jump(chunks: list[np.ndarray], *, context: int = 32) -> float:
    """How much the sample step across a join between consecutive chunks exceeds the largest step of
    the audio around it (max over joins). A click makes this positive; a continuous signal gives <= 0."""
    worst = float("-inf")
    for a, b in zip(chunks, chunks[1:]):
        if not (a.size and b.size):
            continue
        step = abs(float(b[0]) - float(a[-1]))
        around = np.concatenate([np.abs(np.diff(a[-context:])), np.abs(np.diff(b[:context]))])
        worst = max(worst, step - (float(around.max()) if around.size else 0.0))
    return worst if worst != float("-inf") else 0.0
