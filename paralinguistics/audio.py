"""Checks a turn's audio before anything listens to it, and says plainly why when it cannot."""
from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16000
MIN_SECONDS = 0.3
MIN_RMS_DBFS = -60.0  # quieter than this is silence, not speech
MAX_CLIPPED = 0.05  # share of samples at full scale


def dbfs(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-10))


def condition(audio) -> tuple[np.ndarray, list[str], str | None]:
    """Validate and clean a turn: float32 mono 16 kHz, DC removed.

    Returns (audio, warnings, reason); `reason` is set when the turn is unusable (the result is then
    "unknown"). Garbage in (NaN, wrong shape, wrong type) raises ValueError with a clear message.
    """
    try:
        x = np.asarray(audio)
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"audio must be an array of samples, got {type(audio).__name__}") from exc
    if x.dtype.kind not in "fiu":
        raise ValueError(f"audio must be numeric samples, got dtype {x.dtype}")
    if x.ndim == 2 and 1 in x.shape:
        x = x.reshape(-1)
    if x.ndim != 1:
        raise ValueError(f"audio must be mono (1-D), got shape {x.shape}")
    if x.dtype.kind in "iu":  # PCM16 and the like
        x = x.astype(np.float32) / float(np.iinfo(x.dtype).max)
    x = x.astype(np.float32, copy=True)
    if not np.all(np.isfinite(x)):
        raise ValueError("audio contains NaN or infinite samples")
    warnings: list[str] = []
    if len(x) < MIN_SECONDS * SAMPLE_RATE:
        return x, warnings, f"too short ({len(x) / SAMPLE_RATE:.2f} s < {MIN_SECONDS} s)"
    dc = float(np.mean(x))
    if abs(dc) > 0.01:
        warnings.append(f"DC offset {dc:+.3f} removed")
    x -= dc
    peak = float(np.max(np.abs(x)))
    clipped = float(np.mean(np.abs(x) >= 0.99 * peak)) if peak > 0 else 0.0
    if peak >= 0.98 and clipped > MAX_CLIPPED:
        return x, warnings, f"clipped ({clipped:.0%} of samples at full scale)"
    if peak > 0.99:
        warnings.append("some samples clipped")
    if dbfs(x) < MIN_RMS_DBFS:
        return x, warnings, "silent"
    return x, warnings, None
