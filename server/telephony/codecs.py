"""A phone line's audio: 8 kHz G.711 mu-law (Twilio) or 8 kHz signed linear (AudioSocket), and the
conversions to and from the 16 kHz the models take. The G.711 segment formulas are `server.formats`'s
(numpy; Python's `audioop` is gone in 3.13)."""
from __future__ import annotations

import numpy as np

from server.audio import float_to_pcm16, pcm16_to_float, resample
from server.formats import ulaw_decode, ulaw_encode

PHONE_RATE = 8000
MODEL_RATE = 16000


def mulaw_to_pcm16(data: bytes) -> bytes:
    return float_to_pcm16(ulaw_decode(np.frombuffer(data, dtype=np.uint8)))


def pcm16_to_mulaw(data: bytes) -> bytes:
    return ulaw_encode(pcm16_to_float(data)).tobytes()


def to_mulaw(samples: np.ndarray, rate: int = MODEL_RATE) -> bytes:
    """Float audio at `rate` as the 8 kHz mu-law a phone carries."""
    return ulaw_encode(resample(samples, rate, PHONE_RATE)).tobytes()


def from_mulaw(data: bytes, rate: int = MODEL_RATE) -> np.ndarray:
    """8 kHz mu-law as float audio at `rate`."""
    return _bounded(resample(ulaw_decode(np.frombuffer(data, dtype=np.uint8)), PHONE_RATE, rate))


def to_slin(samples: np.ndarray, rate: int = MODEL_RATE) -> bytes:
    """Float audio at `rate` as AudioSocket's 8 kHz signed linear 16-bit little-endian."""
    return float_to_pcm16(resample(samples, rate, PHONE_RATE))


def from_slin(data: bytes, rate: int = MODEL_RATE) -> np.ndarray:
    return _bounded(resample(pcm16_to_float(data), PHONE_RATE, rate))


def _bounded(samples: np.ndarray) -> np.ndarray:
    """The resampler's filter rings past full scale at sharp edges (a clipped voice, line noise); keep it audio."""
    return np.clip(samples, -1.0, 1.0, out=samples)


def phone_round_trip(samples16k: np.ndarray) -> np.ndarray:
    """What the models hear of a 16 kHz recording said over a mu-law phone line: band-limited to 4 kHz and
    companded to 8 bits, then brought back to 16 kHz."""
    return from_mulaw(to_mulaw(samples16k))
