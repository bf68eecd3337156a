"""build_voice: the one place that turns configuration into a Voice."""
from __future__ import annotations

from .base import Voice

BACKENDS = ("piper", "hibari", "espeak", "coqui")
DEFAULT_VOICES = {"piper": "piper-joe", "hibari": "hibari-heart", "espeak": "en-us",
                  "coqui": "tts_models/multilingual/multi-dataset/xtts_v2"}


def voice_name(backend: str = "piper", voice: str | None = None) -> str:
    """What a session calls this voice: the catalog name, or the backend's own voice name."""
    return voice or DEFAULT_VOICES.get(backend, backend)


def build_voice(backend: str = "piper", *, voice: str | None = None, device: str = "auto",
                sample_rate: int | None = None, **options) -> Voice:
    """`voice`: a voice catalog name (server.models: "piper-joe", "hibari-heart") picks its own backend;
    otherwise, for piper - an .onnx path (its .onnx.json beside it); hibari - a hibari voice name ("heart");
    espeak - an espeak-ng voice name; coqui - a coqui model name or a checkpoint path (then pass
    config_path=...). `sample_rate`: resample the output to this rate. Other options go to the backend."""
    from server.models import CATALOG, resolve

    name = voice_name(backend, voice)
    entry = CATALOG.get(name)
    if entry is not None and entry.kind == "voice" and entry.backend:
        backend = entry.backend
    if backend == "piper":
        from .piper import PiperVoice

        built: Voice = PiperVoice(resolve(name), device=device, **options)
    elif backend == "hibari":
        from .hibari import HibariVoice

        built = HibariVoice(name.removeprefix("hibari-"), device=device, **options)
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
