"""Channel and noise conditions for training augmentation and robustness tests."""
from __future__ import annotations

import numpy as np
import soxr

SR = 16000


def telephone(x: np.ndarray) -> np.ndarray:
    """8 kHz G.711 mu-law round trip (the band and the 8-bit companding of a phone call)."""
    y = soxr.resample(x.astype(np.float32), SR, 8000)
    mu = 255.0
    y = np.clip(y, -1, 1)
    code = np.round((np.sign(y) * np.log1p(mu * np.abs(y)) / np.log1p(mu) + 1) / 2 * 255)
    y = (code / 255 * 2 - 1)
    y = np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu
    return soxr.resample(y.astype(np.float32), 8000, SR).astype(np.float32)


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    y = np.fft.irfft(spec / np.sqrt(f), n)
    return (y / (np.std(y) + 1e-12)).astype(np.float32)


def add_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Add pink noise at `snr_db` relative to the clip's active (non-silent) level."""
    frames = x[: len(x) // 160 * 160].reshape(-1, 160) if len(x) >= 160 else x[None]
    pw = np.mean(frames.astype(np.float64) ** 2, axis=1)
    active = pw[pw > np.percentile(pw, 50)] if len(pw) > 1 else pw
    signal = float(np.mean(active)) if len(active) else float(np.mean(pw))
    noise = pink_noise(len(x), rng) * np.sqrt(signal / 10 ** (snr_db / 10))
    y = x + noise
    peak = np.max(np.abs(y))
    return (y / peak * 0.99 if peak > 0.99 else y).astype(np.float32)


def speed(x: np.ndarray, factor: float) -> np.ndarray:
    """Resampling speed change (pitch and tempo together), as in Kaldi-style speed perturbation."""
    return soxr.resample(x.astype(np.float32), SR, int(round(SR / factor))).astype(np.float32)


CONDITIONS = {
    "clean": lambda x, rng: x,
    "tel": lambda x, rng: telephone(x),
    "noise10": lambda x, rng: add_noise(x, 10.0, rng),
    "speed0.9": lambda x, rng: speed(x, 0.9),  # training copies only, never a test condition
    "speed1.1": lambda x, rng: speed(x, 1.1),
}
