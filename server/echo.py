"""Is what the microphone hears just the agent's own voice coming back through the user's speakers?

We know exactly what the agent played and when (the reference). Echo is that waveform again, a little
later and quieter; a person talking is not. So we take the last `window_ms` of microphone audio and
find its best normalised cross-correlation with the reference at any delay up to `max_delay_ms`
(8 kHz, via FFT): echo scores near 1, another voice near 0.1. Browsers cancel most echo themselves;
this catches what gets through, and telephone lines, where nothing cancels it.
"""
from __future__ import annotations

from collections import deque

import numpy as np
import soxr

RATE = 8000


class EchoDetector:
    def __init__(self, *, window_ms: float = 400, max_delay_ms: float = 900, threshold: float = 0.55,
                 keep_ms: float = 6000) -> None:
        self.window = int(window_ms * RATE / 1000)
        self.max_delay = int(max_delay_ms * RATE / 1000)
        self.threshold = threshold
        self.keep_ms = keep_ms
        self._ref: deque[tuple[float, np.ndarray]] = deque()  # (play start ms, 8 kHz samples)
        self._mic = np.zeros(0, np.float32)  # contiguous, newest last
        self._mic_end_ms: float | None = None  # wall time of the newest microphone sample

    def add_reference(self, samples: np.ndarray, rate: int, play_ms: float) -> None:
        """`samples` will be played starting at wall time `play_ms` (ms on the session clock)."""
        self._ref.append((play_ms, soxr.resample(samples.astype(np.float32), rate, RATE, quality="LQ")))
        while self._ref and self._ref[0][0] < play_ms - self.keep_ms:
            self._ref.popleft()

    def add_mic(self, samples: np.ndarray, rate: int, end_ms: float) -> None:
        """Microphone audio whose last sample arrived at wall time `end_ms`."""
        down = soxr.resample(samples.astype(np.float32), rate, RATE, quality="LQ")
        self._mic = np.concatenate([self._mic, down])[-(self.window * 3):]
        self._mic_end_ms = end_ms

    def _reference_span(self, start_ms: float, n: int) -> np.ndarray:
        span = np.zeros(n, np.float32)
        for play_ms, samples in self._ref:
            offset = int(round((play_ms - start_ms) * RATE / 1000))
            lo, hi = max(offset, 0), min(offset + len(samples), n)
            if lo < hi:
                span[lo:hi] = samples[lo - offset: hi - offset]
        return span

    def score(self) -> float:
        """Best normalised cross-correlation of the latest microphone window with the reference."""
        if self._mic_end_ms is None or len(self._mic) < self.window:
            return 0.0
        mic = self._mic[-self.window:].astype(np.float64)
        mic_energy = float(np.dot(mic, mic))
        if mic_energy < 1e-8:
            return 0.0
        n = self.window + self.max_delay
        start_ms = self._mic_end_ms - n * 1000 / RATE
        ref = self._reference_span(start_ms, n).astype(np.float64)
        if float(np.dot(ref, ref)) < 1e-8:
            return 0.0
        size = 1 << int(np.ceil(np.log2(n + self.window)))
        corr = np.fft.irfft(np.fft.rfft(ref, size) * np.conj(np.fft.rfft(mic, size)), size)[: n - self.window + 1]
        csum = np.concatenate([[0.0], np.cumsum(ref * ref)])
        ref_energy = csum[self.window:] - csum[: n - self.window + 1]
        ncc = corr / np.sqrt(np.maximum(ref_energy, 1e-12) * mic_energy)
        ncc[ref_energy < 1e-6 * self.window] = 0.0
        return float(np.max(np.abs(ncc)))

    def is_echo(self) -> bool:
        return self.score() >= self.threshold

    def playing_recently(self, now_ms: float, within_ms: float = 1500) -> bool:
        return any(now_ms - within_ms <= play_ms + len(s) * 1000 / RATE and play_ms <= now_ms
                   for play_ms, s in self._ref)
