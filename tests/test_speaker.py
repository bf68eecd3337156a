"""The speaker encoder the gender head reads: Resemblyzer's network on its packaged weights, real clips."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import soxr

from benchmarks.data import ASTERISK_SOUNDS, LIBRIVOX
from paralinguistics import speaker

pytestmark = pytest.mark.slow


def load(path) -> np.ndarray:
    if not path.exists():
        pytest.skip(f"{path} is not installed")
    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return soxr.resample(x.mean(1), sr, 16000).astype(np.float32)


@pytest.fixture(scope="module")
def encoder() -> speaker.VoiceEncoder:
    return speaker.VoiceEncoder()


def test_one_voice_is_nearer_itself_than_another(encoder):
    """Two phone prompts of the Asterisk woman are nearer each other than either is to a LibriVox man;
    an encoder with wrong weights or a wrong spectrogram does not separate them."""
    a = encoder.embed(load(ASTERISK_SOUNDS / "agent-alreadyon.wav"))
    b = encoder.embed(load(ASTERISK_SOUNDS / "auth-thankyou.wav"))
    man = encoder.embed(load(LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav"))
    man2 = encoder.embed(load(LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0890.wav"))
    assert a.shape == (speaker.DIM,) and np.linalg.norm(a) == pytest.approx(1.0, abs=1e-5)
    assert a @ b > max(a @ man, b @ man) + 0.1
    assert man @ man2 > max(a @ man2, b @ man2) + 0.1


def test_an_embedding_is_deterministic_and_reads_the_loudest_window(encoder):
    import torch

    x = load(LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav")
    threads = torch.get_num_threads()
    assert np.array_equal(encoder.embed(x), encoder.embed(x))
    assert torch.get_num_threads() == threads  # its one-thread LSTM leaves the caller's setting as it was
    # silence around the turn moves nothing: the 1.6 s window with the most energy is the same speech
    padded = np.concatenate([np.zeros(16000 * 2, np.float32), x, np.zeros(16000 * 2, np.float32)])
    assert float(encoder.embed(padded) @ encoder.embed(x)) > 0.99


def test_the_loudest_window_is_found():
    mel = np.ones((500, speaker.N_MELS), np.float32)
    mel[300:460] = 10.0
    assert speaker.loudest_window(mel) == 300
    assert speaker.loudest_window(mel[:100]) == 0  # shorter than a window: from the start, zero-padded


def test_short_quiet_and_empty_audio(encoder):
    quiet = load(LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav")[:3200] * 0.01
    e = encoder.embed(quiet)
    assert np.isfinite(e).all() and np.linalg.norm(e) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError, match="empty"):
        encoder.embed(np.zeros(0, np.float32))


def test_weights_that_are_not_a_voice_encoder_are_refused(tmp_path):
    import torch

    bad = tmp_path / "bad.pt"
    torch.save({"model_state": {"linear.weight": torch.zeros(256, 256)}}, bad)
    with pytest.raises(ValueError, match="not a Resemblyzer voice encoder"):
        speaker.VoiceEncoder(bad)
