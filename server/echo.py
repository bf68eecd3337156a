"""Is what the microphone hears just the agent's own voice coming back through the user's speakers?

We know what the agent is playing and when (the reference). Echo has the same loudness contour as
the reference, a little later; a person talking does not. So we compare 10 ms log-energy envelopes
of the microphone and of the reference over the last `window_ms`, at every delay up to
`max_delay_ms`, and call it echo when some delay correlates above `threshold`. Browsers cancel most
echo themselves; this catches what gets through and telephone lines, where nothing cancels it.
"""
from __future__ import annotations

import numpy as np

HOP_MS = 10


class EchoDetector:
    def __init__(self, *, window_ms: float = 480, max_delay_ms: float = 900, threshold: float = 0.7,
                 keep_ms: float = 4000) -> None:
        self.window, self.max_delay = int(window_ms // HOP_MS), int(max_delay_ms // HOP_MS)
        self.threshold = threshold
        self._keep = int(keep_ms // HOP_MS)
        self._ref: dict[int, float] = {}  # 10 ms bin of wall time -> energy played then
        self._mic: dict[int, float] = {}

    @staticmethod
    def _bins(samples: np.ndarray, rate: int, start_ms: float) -> list[tuple[int, float]]:
        hop = rate * HOP_MS // 1000
        n = len(samples) // hop
        if n == 0:
            return []
        energy = (samples[: n * hop].astype(np.float64).reshape(n, hop) ** 2).mean(axis=1)
        first = int(start_ms // HOP_MS)
        return [(first + i, float(e)) for i, e in enumerate(energy)]

    def add_reference(self, samples: np.ndarray, rate: int, play_ms: float) -> None:
        """`samples` will be played starting at wall time `play_ms` (ms on the session clock)."""
        for b, e in self._bins(samples, rate, play_ms):
            self._ref[b] = e
        self._trim(self._ref)

    def add_mic(self, samples: np.ndarray, rate: int, start_ms: float) -> None:
        for b, e in self._bins(samples, rate, start_ms):
            self._mic[b] = e
        self._trim(self._mic)

    def _trim(self, bins: dict[int, float]) -> None:
        if len(bins) > self._keep * 2:
            cutoff = max(bins) - self._keep
            for b in [b for b in bins if b < cutoff]:
                del bins[b]

    def score(self, now_ms: float) -> float:
        """Best envelope correlation between the last window of microphone and the reference at any delay."""
        end = int(now_ms // HOP_MS)
        mic = np.array([self._mic.get(b, np.nan) for b in range(end - self.window, end)])
        if np.isnan(mic).mean() > 0.3:
            return 0.0
        mic = np.log10(np.nan_to_num(mic, nan=1e-10) + 1e-10)
        best = 0.0
        for delay in range(0, self.max_delay + 1, 2):
            ref = np.array([self._ref.get(b - delay, 0.0) for b in range(end - self.window, end)])
            if (ref > 1e-6).mean() < 0.3:  # the agent was mostly silent then: nothing to echo
                continue
            r = np.corrcoef(mic, np.log10(ref + 1e-10))[0, 1]
            if np.isfinite(r):
                best = max(best, float(r))
        return best

    def is_echo(self, now_ms: float) -> bool:
        return self.score(now_ms) >= self.threshold

    def playing_recently(self, now_ms: float, within_ms: float = 1500) -> bool:
        end = int(now_ms // HOP_MS)
        return any(self._ref.get(b, 0.0) > 1e-6 for b in range(end - int(within_ms // HOP_MS), end + 1))
