"""Whisper's encoder on a trimmed window, shared by recognition and paralinguistics.

`WhisperModel.transcribe()` always pads a turn to 30 s; the encoder's cost grows with its input, so
a 2 s turn pays for 30 s. CTranslate2 accepts a shorter input: we encode the audio plus a few
seconds of silent headroom (a window cut to the audio's exact length makes the decoder loop), then
decode from that. The same encoder states, pooled over the frames that hold audio, feed the
paralinguistic heads, so the encoder runs once per turn for both. `model` is either faster-whisper's
WhisperModel (CTranslate2: only the last layer) or asr.whisper_encoder.TorchWhisperEncoder (every layer,
which the heads read; its last layer feeds CTranslate2's decoder all the same).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16000
HOP = 160  # mel frames every 10 ms; the encoder halves that: 50 states per second
HEADROOM_S = 3.0
MAX_S = 30.0


@dataclass
class Encoded:
    output: object  # ctranslate2.StorageView, input to model.generate()
    hidden: np.ndarray  # float32 (n, frames, dim) over the whole window: every hidden state the encoder
    # exposes, the last being its output (n = layers + 1 from torch, 1 from CTranslate2)
    audio_frames: int  # how many leading states cover real audio (the rest is headroom)
    window_s: float

    @property
    def states(self) -> np.ndarray:
        """The encoder's output, (frames, dim)."""
        return self.hidden[-1]


def log_mel(model, audio: np.ndarray, *, headroom_s: float = HEADROOM_S) -> tuple[np.ndarray, int]:
    """Log-mel features of `audio` followed by `headroom_s` of silence, at most 30 s in all."""
    audio = np.asarray(audio, dtype=np.float32)[: int(MAX_S * SAMPLE_RATE)]
    window_s = min(MAX_S, len(audio) / SAMPLE_RATE + headroom_s)
    n_samples = int(round(window_s * SAMPLE_RATE))
    padded = np.zeros(n_samples, dtype=np.float32)
    padded[: len(audio)] = audio
    features = model.feature_extractor(padded, padding=0)  # (n_mels, frames)
    frames = min(features.shape[-1], n_samples // HOP)
    frames -= frames % 2  # the encoder's stride-2 convolution wants an even count
    return features[:, :frames], frames


def encode(model, audio: np.ndarray, *, headroom_s: float = HEADROOM_S, want_states: bool = True,
           depth: int | None = None) -> Encoded:
    """Encode one utterance with a window of its length plus headroom. `model` is a faster_whisper.WhisperModel
    or an asr.whisper_encoder.TorchWhisperEncoder; with the latter, `depth` stops after that many layers
    (`hidden` then ends at that layer and `output` is None: there is nothing to decode)."""
    import ctranslate2

    from asr.whisper_encoder import TorchWhisperEncoder

    features, frames = log_mel(model, audio, headroom_s=headroom_s)
    if isinstance(model, TorchWhisperEncoder):
        hidden = model.hidden_states(features, depth=depth)
        full = depth is None or depth == model.layers
        output = ctranslate2.StorageView.from_array(np.ascontiguousarray(hidden[-1:])) if full else None
    else:
        if depth is not None:
            raise ValueError("depth needs the torch encoder (asr.whisper_encoder); CTranslate2 gives its output only")
        output = model.model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None])),
                                    to_cpu=True)
        hidden = np.asarray(output).astype(np.float32) if want_states else np.empty((1, 0, 0), np.float32)
    audio_frames = min(frames // 2, int(np.ceil(len(audio) / SAMPLE_RATE * 50)))
    return Encoded(output=output, hidden=hidden, audio_frames=max(audio_frames, 1),
                   window_s=frames * HOP / SAMPLE_RATE)
