"""build_voice: the one place that turns configuration into a Voice."""
from __future__ import annotations

from .base import Voice

BACKENDS = ("piper", "espeak", "coqui")
DEFAULT_VOICES = {"piper": "piper-joe", "espeak": "en-us", "coqui": "tts_models/multilingual/multi-dataset/xtts_v2"}


def build_voice(backend: str = "piper", *, voice: str | None = None, device: str = "auto",
                sample_rate: int | None = None, **options) -> Voice:
    """`voice`: piper - a catalog name (server.models) or an .onnx path (its .onnx.json beside it);
    espeak - an espeak-ng voice name; coqui - a coqui model name or a checkpoint path (then pass
    config_path=...). `sample_rate`: resample the output to this rate. Other options go to the backend."""
    name = voice or DEFAULT_VOICES.get(backend, "")
    if backend == "piper":
        from server.models import resolve

        from .piper import PiperVoice

        built: Voice = PiperVoice(resolve(name), device=device, **options)
    elif backend in ("espeak", "espeak-ng"):
        from .espeak import EspeakVoice

        built = EspeakVoice(name, device=device, **options)
    elif backend == "coqui":
        from .coqui import CoquiVoice

        built = CoquiVoice(name, device=device, **options)
    else:
        raise ValueError(f"unknown TTS backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if sample_rate and sample_rate != built.sample_rate:
        from .resample import ResampledVoice

        return ResampledVoice(built, sample_rate)
    return built
