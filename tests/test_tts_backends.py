"""The fallback espeak-ng voice, the coqui-tts voice, and build_voice."""
import threading

import numpy as np
import pytest

import tts
from tts.espeak import EspeakVoice, ssml
from tts.measure import max_join_jump, prosody_features
from tts.profiles import Prosody


@pytest.fixture(scope="module")
def espeak():
    try:
        return EspeakVoice()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


def test_ssml_escapes_text_and_states_prosody():
    markup = ssml("you <and> me & \"us\"", Prosody(rate=0.9, pitch_semitones=2.0, pitch_range=1.4))
    assert "&lt;and&gt;" in markup and "&amp;" in markup
    assert 'rate="90%"' in markup and 'pitch="+12%"' in markup and 'range="140%"' in markup


def test_espeak_streams_clauses(espeak):
    chunks = list(espeak.synthesize("Oh, I see. It is 3:30 pm & we <can> talk.", emotion="warm"))
    assert chunks and all(c.sample_rate == espeak.sample_rate for c in chunks)
    assert [c.clause_index for c in chunks][-1] == 1
    assert max_join_jump([c.samples for c in chunks]) < 0.02


def test_espeak_emotion_directions(espeak):
    text = "I understand, and I am here with you. Tell me more about what happened."
    m = {e: prosody_features(np.concatenate([c.samples for c in espeak.synthesize(text, emotion=e)]),
                             espeak.sample_rate) for e in ("neutral", "cheerful", "calm")}
    assert m["cheerful"]["f0_median_hz"] > m["neutral"]["f0_median_hz"] > m["calm"]["f0_median_hz"]
    assert m["calm"]["speech_s"] > m["neutral"]["speech_s"] > m["cheerful"]["speech_s"]


def test_espeak_cancel(espeak):
    cancel = threading.Event()
    cancel.set()
    assert list(espeak.synthesize("Nothing should be said.", cancel=cancel)) == []


def test_build_voice_espeak_resampled():
    voice = tts.build_voice("espeak", sample_rate=8000)
    assert voice.sample_rate == 8000
    assert all(c.sample_rate == 8000 for c in voice.synthesize("Hello there, friend."))


def test_build_voice_rejects_unknown_backend_and_device():
    with pytest.raises(ValueError, match="unknown TTS backend"):
        tts.build_voice("nope")
    with pytest.raises(ValueError, match="device"):
        tts.build_voice("espeak", device="tpu")


def test_coqui_vits_from_a_tiny_config(tmp_path):
    try:
        import TTS  # noqa: F401
        from TTS.tts.configs.vits_config import VitsConfig
        from TTS.tts.models.vits import Vits, VitsArgs
    except Exception as exc:  # see ../shared/FINDINGS.md: needs a torchaudio that loads
        pytest.skip(f"coqui-tts not importable here: {type(exc).__name__}: {exc}")
    import torch

    from tts.coqui import CoquiVoice

    args = VitsArgs(hidden_channels=16, hidden_channels_ffn_text_encoder=32, num_heads_text_encoder=2,
                    num_layers_text_encoder=1, num_layers_flow=1, num_layers_posterior_encoder=1,
                    num_layers_dp_flow=1, resblock_kernel_sizes_decoder=[3], resblock_dilation_sizes_decoder=[[1]],
                    upsample_rates_decoder=[8, 8, 4], upsample_initial_channel_decoder=32,
                    upsample_kernel_sizes_decoder=[16, 16, 8])
    config = VitsConfig(model_args=args, use_phonemes=False, text_cleaner="english_cleaners")
    config.audio.sample_rate = 16000
    model = Vits.init_from_config(config)
    torch.save({"model": model.state_dict()}, tmp_path / "model.pth")
    config.save_json(str(tmp_path / "config.json"))
    voice = CoquiVoice(str(tmp_path / "model.pth"), config_path=str(tmp_path / "config.json"), device="cpu")
    assert voice.sample_rate == 16000
    chunks = list(voice.synthesize("Hello there, my friend.", emotion="calm"))
    assert chunks and all(c.sample_rate == 16000 and np.isfinite(c.samples).all() for c in chunks)
