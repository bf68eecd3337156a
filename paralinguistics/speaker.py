"""Speaker embeddings: Resemblyzer's voice encoder (a GE2E LSTM, 256-d), weights from the `resemblyzer` package.

The gender head reads them beside the Whisper states: an encoder trained to tell speakers apart hears the
timbre that separates a low-voiced woman from a man better than pitch or ASR states do. The package itself is
installed without its dependencies (its audio module needs librosa and webrtcvad, whose import needs the
removed `pkg_resources`); the network is rebuilt here and reads only `pretrained.pt`. Its input is the same
40-band power mel spectrogram (25 ms window, 10 ms hop) built from faster-whisper's filterbank, and an
utterance is embedded as Resemblyzer does: 1.6 s partials, 1.3 per second, L2-normed mean.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

SR = 16000
N_MELS, N_FFT, HOP = 40, 400, 160
PARTIAL_FRAMES = 160  # 1.6 s
PARTIALS_PER_SECOND = 1.3
MIN_COVERAGE = 0.75
TARGET_DBFS = -30.0
DIM = 256


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


def partial_starts(n_samples: int) -> list[int]:
    """First mel frame of each 1.6 s partial; a short last partial is dropped unless it is the only one."""
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    step = int(round(SR / PARTIALS_PER_SECOND / HOP))
    starts = list(range(0, max(1, n_frames - PARTIAL_FRAMES + step + 1), step))
    coverage = (n_samples - starts[-1] * HOP) / (PARTIAL_FRAMES * HOP)
    if coverage < MIN_COVERAGE and len(starts) > 1:
        starts.pop()
    return starts


def normalise_volume(x: np.ndarray) -> np.ndarray:
    """Raise (never lower) the level to -30 dBFS, as Resemblyzer's preprocessing does."""
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0
    if rms <= 1e-8:
        return x
    gain_db = TARGET_DBFS - 20 * np.log10(rms)
    return x * np.float32(10 ** (gain_db / 20)) if gain_db > 0 else x


class VoiceEncoder:
    """`embed(audio16k)` -> a (256,) L2-normed speaker embedding. Thread-safe; torch is imported on first use."""

    def __init__(self, weights: str | Path | None = None, *, device: str = "cpu", max_seconds: float = 6.0):
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
        starts = partial_starts(len(x))
        need = (starts[-1] + PARTIAL_FRAMES) * HOP
        if need > len(x):
            x = np.pad(x, (0, need - len(x)))
        mel = mel_frames(x)
        batch = np.stack([mel[s:s + PARTIAL_FRAMES] for s in starts])
        torch = self._torch
        with self._lock, torch.inference_mode():
            _, (hidden, _) = self.net.lstm(torch.from_numpy(batch).to(self.device))
            e = torch.relu(self.net.linear(hidden[-1]))
            e = e / e.norm(dim=1, keepdim=True).clamp_min(1e-8)
        mean = e.mean(0).cpu().numpy()
        return (mean / max(float(np.linalg.norm(mean)), 1e-8)).astype(np.float32)
