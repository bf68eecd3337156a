"""Speaker embeddings: Resemblyzer's voice encoder (a GE2E LSTM, 256-d), weights from the `resemblyzer` package.

The gender head reads them beside the Whisper states: an encoder trained to tell speakers apart hears the
timbre that separates a low-voiced woman from a man better than pitch or ASR states do. The package itself is
installed without its dependencies (its audio module needs librosa and webrtcvad, whose import needs the
removed `pkg_resources`); the network is rebuilt here and reads only `pretrained.pt`. Its input is the same
40-band power mel spectrogram (25 ms window, 10 ms hop) built from faster-whisper's filterbank.

One window per turn: Resemblyzer averages 1.6 s partials taken 1.3 times a second, but on one CPU core its
LSTM costs ~14 ms for one partial and ~28 ms for two or more, and the whole analysis beyond the encoder pass
has ~30 ms. So a turn is embedded from its loudest 1.6 s (the most speech), which is one of Resemblyzer's
partial embeddings. A 1.0 s window costs ~12 instead of ~18 ms but, cross-validated in gender's stack, trades
one voice for another (per held-out speaker 0.986 -> 0.983: EmoDB's speaker 03 0.92 -> 0.84, TESS's older
woman 0.84 -> 0.87), so the window stays Resemblyzer's. Run on a thread of its own beside the prosody, it
saves nothing on these two cores: both slow down together (30 ms one after the other, 31 ms side by side).
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

SR = 16000
N_MELS, N_FFT, HOP = 40, 400, 160
PARTIAL_FRAMES = 160  # 1.6 s
TARGET_DBFS = -30.0
DIM = 256
METHOD = "resemblyzer-loudest-1.6s"  # names cached embeddings: a change of method must not reuse them


def weights_path() -> Path:
    from server.models import resolve

    return Path(resolve("resemblyzer"))


def mel_frames(audio16k: np.ndarray) -> np.ndarray:
    """(frames, 40) power mel spectrogram, one frame per 10 ms."""
    from faster_whisper.feature_extractor import FeatureExtractor

    x = np.asarray(audio16k, dtype=np.float32)
    if len(x) < N_FFT:
        x = np.pad(x, (0, N_FFT - len(x)))
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)
    spec = FeatureExtractor.stft(x, N_FFT, HOP, window=window, return_complex=True)
    return (_filters() @ (np.abs(spec) ** 2)).T.astype(np.float32)


_FILTERS: np.ndarray | None = None


def _filters() -> np.ndarray:
    global _FILTERS
    if _FILTERS is None:
        from faster_whisper.feature_extractor import FeatureExtractor

        _FILTERS = FeatureExtractor.get_mel_filters(SR, N_FFT, N_MELS).astype(np.float32)
    return _FILTERS


def loudest_window(mel: np.ndarray, frames: int = PARTIAL_FRAMES) -> int:
    """First frame of the `frames`-long stretch of `mel` (frames, bands) with the most energy."""
    if len(mel) <= frames:
        return 0
    energy = np.concatenate([[0.0], np.cumsum(mel.sum(1, dtype=np.float64))])
    return int(np.argmax(energy[frames:] - energy[:-frames]))


def normalise_volume(x: np.ndarray) -> np.ndarray:
    """Raise (never lower) the level to -30 dBFS, as Resemblyzer's preprocessing does."""
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0
    if rms <= 1e-8:
        return x
    gain_db = TARGET_DBFS - 20 * np.log10(rms)
    return x * np.float32(10 ** (gain_db / 20)) if gain_db > 0 else x


class VoiceEncoder:
    """`embed(audio16k)` -> a (256,) L2-normed speaker embedding. Thread-safe; torch is imported on first use."""

    def __init__(self, weights: str | Path | None = None, *, device: str = "cpu", max_seconds: float = 10.0):
        import torch
        from torch import nn

        self.device = device
        self.max_seconds = max_seconds
        net = nn.Module()
        net.lstm = nn.LSTM(N_MELS, 256, 3, batch_first=True)
        net.linear = nn.Linear(256, DIM)
        state = torch.load(str(weights or weights_path()), map_location="cpu", weights_only=True)
        state = state.get("model_state", state)
        missing = net.load_state_dict({k: v for k, v in state.items() if k.split(".")[0] in ("lstm", "linear")},
                                      strict=False)
        if missing.missing_keys:
            raise ValueError(f"{weights}: not a Resemblyzer voice encoder (missing {missing.missing_keys})")
        self.net = net.to(device).eval()
        self._torch = torch
        self._lock = threading.Lock()

    def embed(self, audio16k: np.ndarray) -> np.ndarray:
        x = np.asarray(audio16k, dtype=np.float32)[: int(self.max_seconds * SR)]
        if len(x) == 0:
            raise ValueError("cannot embed empty audio")
        x = normalise_volume(x)
        if len(x) < PARTIAL_FRAMES * HOP:
            x = np.pad(x, (0, PARTIAL_FRAMES * HOP - len(x)))  # a short turn is zero-padded, as Resemblyzer does
        mel = mel_frames(x)
        start = loudest_window(mel)
        window = np.ascontiguousarray(mel[None, start:start + PARTIAL_FRAMES])
        torch = self._torch
        with self._lock, torch.inference_mode():
            threads = torch.get_num_threads()
            if self.device == "cpu":  # 160 small LSTM steps: a second thread only adds overhead (17 vs 27 ms)
                torch.set_num_threads(1)  # this thread's setting (OpenMP), restored below
            try:
                _, (hidden, _) = self.net.lstm(torch.from_numpy(window).to(self.device))
                e = torch.relu(self.net.linear(hidden[-1]))[0].cpu().numpy()
            finally:
                torch.set_num_threads(threads)
        return (e / max(float(np.linalg.norm(e)), 1e-8)).astype(np.float32)
