"""What the heads see: pooled Whisper encoder states plus prosodic features, same code for training and use."""
from __future__ import annotations

import numpy as np

from . import prosody


def pool(states: np.ndarray) -> np.ndarray:
    """Mean and standard deviation over the frames that hold audio: (frames, dim) -> (2*dim,)."""
    s = np.asarray(states, dtype=np.float32)
    if s.ndim != 2 or len(s) == 0:
        raise ValueError(f"encoder states must be (frames, dim) with frames > 0, got shape {s.shape}")
    return np.concatenate([s.mean(0), s.std(0)]).astype(np.float32)


def pool_layers(hidden: np.ndarray, layers) -> np.ndarray:
    """`pool` of each chosen hidden state of (n, frames, dim), concatenated: (len(layers) * 2 * dim,)."""
    h = np.asarray(hidden, dtype=np.float32)
    if h.ndim != 3:
        raise ValueError(f"hidden states must be (layers, frames, dim), got shape {h.shape}")
    return np.concatenate([pool(h[i]) for i in layers]) if len(layers) else np.zeros(0, np.float32)


def halve(states: np.ndarray) -> np.ndarray:
    """Average neighbouring frames (50 -> 25 per second): what the attention-pooling head reads."""
    s = np.asarray(states, dtype=np.float32)
    n = len(s) // 2 * 2
    if n == 0:
        return s
    return s[:n].reshape(-1, 2, s.shape[1]).mean(1)


def frame_stats(frames: np.ndarray) -> np.ndarray:
    """Maximum and 90th percentile over the halved output-layer frames, (2 * dim,): a short event (a click, a
    sneeze) stands out in them where the mean over the whole turn washes it away."""
    f = np.asarray(frames, dtype=np.float32)
    if f.ndim != 2 or len(f) == 0:
        raise ValueError(f"frames must be (frames, dim) with frames > 0, got shape {f.shape}")
    return np.concatenate([f.max(0), np.percentile(f, 90, axis=0)]).astype(np.float32)


def signal_features(audio16k: np.ndarray) -> tuple[prosody.Style, np.ndarray]:
    t = prosody.track(audio16k)
    s = prosody.style(t)
    return s, prosody.features(t, s)
