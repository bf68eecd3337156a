"""server/audio.py: PCM conversions and the resamplers the transport uses."""
import base64

import numpy as np
import pytest

from server.audio import StreamResampler, b64_to_float, float_to_b64, float_to_pcm16, pcm16_to_float, resample


def tone(freq: float, rate: int, seconds: float = 1.0) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * freq * np.arange(int(rate * seconds)) / rate)).astype(np.float32)


def dominant(x: np.ndarray, rate: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / rate)[np.argmax(spec)])


@pytest.mark.parametrize("src, dst", [(22050, 24000), (22050, 8000), (24000, 16000), (8000, 16000),
                                      (48000, 16000), (16000, 44100)])
def test_resample_rate_length_and_pitch(src, dst):
    x = tone(440.0, src)
    y = resample(x, src, dst)
    assert y.dtype == np.float32
    assert abs(y.size - dst) <= 2
    assert abs(dominant(y, dst) - 440.0) < 3.0
    assert abs(np.sqrt(np.mean(y[dst // 10: -dst // 10] ** 2)) - 0.5 / np.sqrt(2)) < 0.01


def test_resample_removes_what_the_lower_rate_cannot_carry():
    x = tone(6000.0, 22050)  # above 8 kHz's Nyquist: must be filtered, not aliased to 2 kHz
    y = resample(x, 22050, 8000)
    assert np.sqrt(np.mean(y**2)) < 0.01


def test_resample_same_rate_and_empty():
    x = tone(300.0, 16000).astype(np.float64)
    assert resample(x, 16000, 16000).dtype == np.float32
    assert resample(np.zeros(0, np.float32), 22050, 24000).size == 0


@pytest.mark.parametrize("src, dst", [(22050, 24000), (22050, 8000), (16000, 48000)])
def test_stream_resampler_matches_one_shot_and_joins_smoothly(src, dst):
    x = tone(440.0, src, 2.0)
    stream = StreamResampler(src, dst)
    step = int(src * 0.1)
    pieces = [stream(x[i:i + step]) for i in range(0, x.size, step)]
    pieces.append(stream(np.zeros(0, np.float32), last=True))
    y = np.concatenate(pieces)
    assert abs(y.size - 2 * dst) <= 2
    whole = resample(x, src, dst)
    n = min(y.size, whole.size)
    assert np.max(np.abs(y[:n] - whole[:n])) < 1e-3
    # No click at a join: no step larger than the one-shot resampling of the same sine has.
    assert np.max(np.abs(np.diff(y))) <= np.max(np.abs(np.diff(whole))) + 1e-3


def test_stream_resampler_same_rate_passes_through():
    x = tone(200.0, 24000)
    assert np.array_equal(StreamResampler(24000, 24000)(x), x)


def test_pcm16_round_trip_within_one_step():
    pcm = np.array([-32768, -32767, -1, 0, 1, 12345, 16384, 32767], dtype="<i2").tobytes()
    back = np.frombuffer(float_to_pcm16(pcm16_to_float(pcm)), dtype="<i2")
    assert np.max(np.abs(back.astype(int) - np.frombuffer(pcm, dtype="<i2"))) <= 1


def test_pcm16_round_trip_exact():
    pcm = np.arange(-32768, 32768, 7, dtype="<i2").tobytes()
    assert float_to_pcm16(pcm16_to_float(pcm)) == pcm


def test_float_to_pcm16_clips():
    out = np.frombuffer(float_to_pcm16(np.array([-2.0, 2.0, 0.0], np.float32)), dtype="<i2")
    assert out[0] <= -32767 and out[1] == 32767 and out[2] == 0


def test_bad_pcm_is_a_clear_error():
    with pytest.raises(ValueError, match="even"):
        pcm16_to_float(b"\x00\x01\x02")
    with pytest.raises(Exception):
        b64_to_float("not base64!!")


def test_base64_round_trip():
    x = tone(300.0, 8000, 0.1)
    assert np.max(np.abs(b64_to_float(float_to_b64(x)) - x)) < 1e-4
    assert base64.b64decode(float_to_b64(x))[:2] == float_to_pcm16(x[:1])
