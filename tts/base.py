from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Iterator, Protocol

import numpy as np

EMOTIONS = ("neutral", "warm", "gentle", "calm", "reassuring", "cheerful", "serious")


@dataclass
class AudioChunk:
    samples: np.ndarray  # float32 mono in [-1, 1]
    sample_rate: int
    text: str = ""  # the words this chunk speaks, when known
    clause_index: int = 0  # which clause of this synthesize() call `text` is (0, 1, ...)


class Voice(Protocol):
    name: str
    sample_rate: int

    def synthesize(self, text: str, *, emotion: str = "neutral", intensity: float = 0.5,
                   cancel: threading.Event | None = None) -> Iterator[AudioChunk]:
        """Yield audio for `text` chunk by chunk; stop within one chunk once `cancel` is set."""
        ...
