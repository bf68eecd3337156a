"""A voice at the rate the transport needs (24 kHz for the Realtime API, 8 kHz for telephony), via soxr."""
from __future__ import annotations

import threading
from typing import Iterator

import numpy as np
import soxr

from .base import AudioChunk, Voice


class ResampledVoice:
    """Wraps a Voice; one soxr stream per synthesize() call keeps chunk joins continuous."""

    def __init__(self, voice: Voice, sample_rate: int, *, quality: str = "HQ") -> None:
        if not isinstance(sample_rate, int) or not 4000 <= sample_rate <= 192000:
            raise ValueError(f"sample_rate must be an int in 4000..192000, got {sample_rate!r}")
        self.voice, self.sample_rate, self.quality = voice, sample_rate, quality
        self.name = f"{voice.name}@{sample_rate}"

    def synthesize(self, text: str, *, emotion: str = "neutral", intensity: float = 0.5,
                   cancel: threading.Event | None = None) -> Iterator[AudioChunk]:
        if self.voice.sample_rate == self.sample_rate:
            yield from self.voice.synthesize(text, emotion=emotion, intensity=intensity, cancel=cancel)
            return
        stream = soxr.ResampleStream(self.voice.sample_rate, self.sample_rate, 1, dtype="float32",
                                     quality=self.quality)
        pending: AudioChunk | None = None
        # Hold one chunk back so the last one can carry the resampler's tail (its filter delay).
        for chunk in self.voice.synthesize(text, emotion=emotion, intensity=intensity, cancel=cancel):
            out = stream.resample_chunk(np.asarray(chunk.samples, dtype=np.float32), last=False)
            if pending is not None:
                yield pending
            pending = AudioChunk(out, self.sample_rate, text=chunk.text, clause_index=chunk.clause_index)
        if pending is not None and not (cancel is not None and cancel.is_set()):
            tail = stream.resample_chunk(np.zeros(0, np.float32), last=True)
            yield AudioChunk(np.concatenate([pending.samples, tail]), self.sample_rate, text=pending.text,
                             clause_index=pending.clause_index)
