"""What every backend shares: text in, clauses out, each clause rendered with its emotion and cut into chunks."""
from __future__ import annotations

import threading
from typing import Iterator

import numpy as np

from .base import EMOTIONS, AudioChunk
from .clauses import split_clauses
from .normalize import normalize
from .profiles import ProfileTable, Prosody, default_table
from .render import ClauseRenderer, chunk_audio


class ClauseVoice:
    """Base of the backends. A subclass implements `_raw(spoken_text, prosody, cancel) -> audio | None`
    (None once cancelled); loudness and pauses are applied here, and pitch unless `_own_pitch` says
    the backend realised it itself."""

    name = "voice"
    sample_rate = 22050

    def __init__(self, *, profiles: ProfileTable | None = None, chunk_ms: float = 100.0) -> None:
        self.profiles = profiles or default_table()
        self.chunk_ms = chunk_ms
        self._renderer: ClauseRenderer | None = None

    @property
    def renderer(self) -> ClauseRenderer:
        if self._renderer is None:
            self._renderer = ClauseRenderer(self.sample_rate)
        return self._renderer

    def prosody(self, emotion: str | None, intensity: float | None) -> Prosody:
        return self.profiles.get(emotion if emotion in EMOTIONS or emotion in self.profiles.profiles else "neutral",
                                 intensity)

    def synthesize(self, text: str, *, emotion: str = "neutral", intensity: float = 0.5,
                   cancel: threading.Event | None = None) -> Iterator[AudioChunk]:
        if text is None:
            return
        if not isinstance(text, str):
            raise TypeError(f"synthesize() takes text as str, got {type(text).__name__}")
        prosody = self.prosody(emotion, intensity)
        for index, clause in enumerate(split_clauses(text)):
            if cancel is not None and cancel.is_set():
                return
            spoken = normalize(clause)
            if not any(ch.isalnum() for ch in spoken):
                continue
            raw = self._raw(spoken, prosody, cancel)
            if raw is None or (cancel is not None and cancel.is_set()):
                return
            audio = self.renderer(raw, prosody, text=clause, pitch=not self._own_pitch(prosody))
            for piece in chunk_audio(audio, self.sample_rate, chunk_ms=self.chunk_ms):
                if cancel is not None and cancel.is_set():
                    return
                yield AudioChunk(piece, self.sample_rate, text=clause, clause_index=index)

    def _own_pitch(self, prosody: Prosody) -> bool:
        return False

    def _raw(self, spoken: str, prosody: Prosody, cancel: threading.Event | None) -> np.ndarray | None:
        raise NotImplementedError
