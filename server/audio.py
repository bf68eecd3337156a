"""PCM conversions and resampling, for the transport edge. Everything inside is float32 mono."""
from __future__ import annotations

import base64

import numpy as np
import soxr


def pcm16_to_float(data: bytes) -> np.ndarray:
    if len(data) % 2:
        raise ValueError(f"PCM16 audio must have an even number of bytes, got {len(data)}")
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def float_to_pcm16(samples: np.ndarray) -> bytes:
    return np.clip(np.round(np.asarray(samples, np.float32) * 32768.0), -32768, 32767).astype("<i2").tobytes()


def b64_to_float(text: str) -> np.ndarray:
    return pcm16_to_float(base64.b64decode(text, validate=True))


def float_to_b64(samples: np.ndarray) -> str:
    return base64.b64encode(float_to_pcm16(samples)).decode("ascii")


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    if from_rate == to_rate or samples.size == 0:
        return samples.astype(np.float32, copy=False)
    return soxr.resample(samples.astype(np.float32, copy=False), from_rate, to_rate, quality="HQ")


class StreamResampler:
    """Chunk-by-chunk resampling with state, so joins between chunks stay click-free."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate, self.to_rate = from_rate, to_rate
        self._inner = None if from_rate == to_rate else soxr.ResampleStream(from_rate, to_rate, 1, dtype="float32", quality="HQ")

    def __call__(self, samples: np.ndarray, *, last: bool = False) -> np.ndarray:
        if self._inner is None:
            return samples.astype(np.float32, copy=False)
        # the filter rings past full scale at sharp edges (a clipped voice, noise); what leaves is still audio
        return np.clip(self._inner.resample_chunk(samples.astype(np.float32, copy=False), last=last), -1.0, 1.0)
