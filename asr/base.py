from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

SAMPLE_RATE = 16000  # every recogniser and the VAD take 16 kHz float32 mono


@dataclass
class Transcript:
    text: str
    language: str | None = None
    # Whisper encoder hidden states for this turn, (n, frames, dim), trimmed to the audio: every layer
    # (n = layers + 1, the last the encoder's output) or the output only (n = 1). Paralinguistics reuses
    # them so the encoder runs once per turn. None when the backend has no such thing.
    encoder_states: np.ndarray | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds, per step


class Recognizer(Protocol):
    name: str

    def transcribe(self, audio: np.ndarray, *, cancel: threading.Event | None = None) -> Transcript:
        """Transcribe one utterance of 16 kHz float32 mono audio."""
        ...
