"""coqui-tts voices (XTTS-v2 with a reference clip per emotion, or any VITS model), for users with a GPU.

Loaded through coqui's own `TTS.api.TTS`: a model name (downloaded by coqui on first use, so it needs
a network) or a local checkpoint plus its config. Optional extra: `pip install warmline[coqui]`.
`import TTS` needs a working torchaudio, which the CPU machines here lack (see FINDINGS.md).
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from .profiles import ProfileTable, Prosody
from .voice import ClauseVoice

XTTS_V2 = "tts_models/multilingual/multi-dataset/xtts_v2"


def torch_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' but torch sees no CUDA device")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    return device


class CoquiVoice(ClauseVoice):
    """Emotion: with XTTS, the profile's `reference_clip` is the speaker prompt (the clip carries the
    emotion; rate goes to XTTS's `speed`); otherwise rate goes to the model's length scale and pitch,
    loudness and pauses are rendered on the output like for Piper."""

    def __init__(self, model: str = XTTS_V2, *, config_path: str | None = None, device: str = "auto",
                 language: str = "en", speaker: str | None = None, profiles: ProfileTable | None = None,
                 chunk_ms: float = 100.0) -> None:
        super().__init__(profiles=profiles, chunk_ms=chunk_ms)
        try:
            from TTS.api import TTS
        except Exception as exc:  # ImportError, or OSError from a torchaudio build that does not load
            raise ImportError(f"coqui-tts is not usable here ({type(exc).__name__}: {exc}); "
                              "install it with a torchaudio that matches your torch: pip install 'warmline[coqui]'") from exc
        self.device = torch_device(device)
        if Path(model).exists():
            if config_path is None:
                raise ValueError("a local coqui checkpoint needs config_path (its config.json)")
            self._tts = TTS(model_path=model, config_path=config_path, progress_bar=False)
        else:
            self._tts = TTS(model_name=model, progress_bar=False)
        self._tts.to(self.device)
        self.sample_rate = int(self._tts.synthesizer.output_sample_rate)
        self.name = f"coqui:{Path(model).name}"
        self.language = language
        self.speaker = speaker
        self._model = self._tts.synthesizer.tts_model
        self._is_xtts = "xtts" in type(self._model).__name__.lower()
        self._base_length_scale = float(getattr(self._model, "length_scale", 1.0))
        self._lock = threading.Lock()

    def _own_pitch(self, prosody: Prosody) -> bool:
        return self._is_xtts and bool(prosody.reference_clip)

    def _raw(self, spoken: str, prosody: Prosody, cancel: threading.Event | None) -> np.ndarray | None:
        kwargs: dict = {"split_sentences": False}
        if self._tts.is_multi_lingual:
            kwargs["language"] = self.language
        if self._is_xtts:
            kwargs["speed"] = prosody.rate
            if prosody.reference_clip:
                kwargs["speaker_wav"] = prosody.reference_clip
            else:
                kwargs["speaker"] = self.speaker or (self._tts.speakers or [None])[0]
        elif self._tts.is_multi_speaker:
            kwargs["speaker"] = self.speaker or self._tts.speakers[0]
        with self._lock:
            if not self._is_xtts and hasattr(self._model, "length_scale"):
                self._model.length_scale = self._base_length_scale / prosody.rate
            wav = self._tts.tts(text=spoken, **kwargs)
        if cancel is not None and cancel.is_set():
            return None
        return np.asarray(wav, dtype=np.float32).reshape(-1)
