"""Per-connection limits that need a little state: how fast a client may send audio."""
from __future__ import annotations

import time


class AudioPace:
    """A client may send audio faster than real time only within a burst (a recorded clip sent whole); past it,
    `delay()` says how long to hold its next message, so its sends back up in TCP instead of in our memory."""

    def __init__(self, *, speed: float, burst_s: float, clock=time.monotonic) -> None:
        self.speed, self.burst_s, self._clock = speed, burst_s, clock
        self._credit = burst_s  # seconds of audio it may still send ahead of the allowed pace
        self._last = clock()

    def delay(self, audio_s: float) -> float:
        now = self._clock()
        self._credit = min(self.burst_s, self._credit + (now - self._last) * self.speed)
        self._last = now
        self._credit -= audio_s
        return max(0.0, -self._credit / self.speed)
