"""Wire audio formats negotiated per session: PCM16 at a declared rate, or G.711 mu-law / A-law at 8 kHz."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from server.audio import float_to_pcm16, pcm16_to_float

PCM_RATES = (8000, 16000, 22050, 24000, 44100, 48000)


class FormatError(ValueError):
    pass


@dataclass(frozen=True)
class AudioFormat:
    type: str = "audio/pcm"  # audio/pcm | audio/pcmu | audio/pcma
    rate: int = 24000

    @classmethod
    def parse(cls, spec: object) -> "AudioFormat":
        if isinstance(spec, str):  # the beta API names formats by string
            spec = {"pcm16": {"type": "audio/pcm"}, "g711_ulaw": {"type": "audio/pcmu"},
                    "g711_alaw": {"type": "audio/pcma"}}.get(spec, {"type": spec})
        if not isinstance(spec, dict):
            raise FormatError("an audio format is an object like {\"type\": \"audio/pcm\", \"rate\": 24000}")
        kind = spec.get("type", "audio/pcm")
        if kind in ("audio/pcmu", "audio/pcma"):
            rate = spec.get("rate", 8000)
            if rate != 8000:
                raise FormatError(f"{kind} is 8000 Hz only, got {rate!r}")
            return cls(kind, 8000)
        if kind != "audio/pcm":
            raise FormatError(f"unsupported audio format type {kind!r}; use audio/pcm, audio/pcmu or audio/pcma")
        rate = spec.get("rate", 24000)
        if rate not in PCM_RATES:
            raise FormatError(f"unsupported PCM rate {rate!r}; supported: {', '.join(map(str, PCM_RATES))}")
        return cls(kind, int(rate))

    @property
    def bytes_per_sample(self) -> int:
        return 2 if self.type == "audio/pcm" else 1

    def seconds(self, nbytes: int) -> float:
        """How much audio `nbytes` of this format carry."""
        return nbytes / self.bytes_per_sample / self.rate

    def decode(self, data: bytes) -> np.ndarray:
        if not data:
            raise FormatError("empty audio")
        if self.type == "audio/pcm":
            return pcm16_to_float(data)
        codes = np.frombuffer(data, dtype=np.uint8)
        return ulaw_decode(codes) if self.type == "audio/pcmu" else alaw_decode(codes)

    def encode(self, samples: np.ndarray) -> bytes:
        if self.type == "audio/pcm":
            return float_to_pcm16(samples)
        return (ulaw_encode(samples) if self.type == "audio/pcmu" else alaw_encode(samples)).tobytes()

    def to_dict(self) -> dict:
        return {"type": self.type, "rate": self.rate}


# G.711 (ITU-T), the segment formulas written out with numpy.
_BIAS, _CLIP = 0x84, 32635


def ulaw_encode(samples: np.ndarray) -> np.ndarray:
    pcm = np.clip(np.round(np.asarray(samples, np.float32) * 32768), -32768, 32767).astype(np.int32)
    sign = np.where(pcm < 0, 0x80, 0)
    mag = np.minimum(np.abs(pcm), _CLIP) + _BIAS
    exponent = np.floor(np.log2(mag)).astype(np.int32) - 7
    mantissa = (mag >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)


def ulaw_decode(codes: np.ndarray) -> np.ndarray:
    u = ~codes.astype(np.int32) & 0xFF
    exponent, mantissa = (u >> 4) & 0x07, u & 0x0F
    mag = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return (np.where(u & 0x80, -mag, mag) / 32768.0).astype(np.float32)


def alaw_encode(samples: np.ndarray) -> np.ndarray:
    pcm = np.clip(np.round(np.asarray(samples, np.float32) * 32768), -32768, 32767).astype(np.int32) >> 3
    sign = np.where(pcm >= 0, 0x80, 0)
    mag = np.minimum(np.where(pcm < 0, -pcm - 1, pcm), 0xFFF)
    exponent = np.where(mag < 32, 0, np.floor(np.log2(np.maximum(mag, 1))).astype(np.int32) - 4)
    mantissa = np.where(exponent == 0, mag >> 1, mag >> exponent) & 0x0F
    return ((sign | (exponent << 4) | mantissa) ^ 0x55).astype(np.uint8)


def alaw_decode(codes: np.ndarray) -> np.ndarray:
    a = codes.astype(np.int32) ^ 0x55
    exponent, mantissa = (a >> 4) & 0x07, a & 0x0F
    mag = np.where(exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0))
    return (np.where(a & 0x80, mag, -mag) / 32768.0).astype(np.float32)
