"""The torch Whisper encoder read from a CTranslate2 folder: same output as CTranslate2's, every layer kept."""
from __future__ import annotations

import numpy as np
import pytest

from asr.encoder import encode
from asr.whisper_encoder import TorchWhisperEncoder, read_ctranslate2
from benchmarks.asr import librivox
from benchmarks.metrics import normalise
from server.models import ModelMissing, resolve

CLIPS = librivox()


def _model(name: str) -> str:
    try:
        return resolve(name)
    except ModelMissing as exc:
        pytest.skip(f"{name}: {exc}")


def _agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


@pytest.fixture(scope="module")
def base_folder() -> str:
    return _model("whisper-base")


def test_reads_every_layer_of_whisper_base(base_folder):
    enc = TorchWhisperEncoder.from_folder(base_folder, device="cpu")
    assert (enc.layers, enc.dim, enc.heads) == (6, 512, 8)
    mel = np.random.default_rng(0).standard_normal((80, 400)).astype(np.float32)
    hidden = enc.hidden_states(mel)
    assert hidden.shape == (7, 200, 512) and np.isfinite(hidden).all()
    assert all(_agreement(hidden[i], hidden[i + 1]) < 0.999 for i in range(6))  # each layer changes something


def test_a_shallow_pass_stops_at_the_layer_asked_for(base_folder):
    enc = TorchWhisperEncoder.from_folder(base_folder, device="cpu")
    mel = np.random.default_rng(1).standard_normal((80, 300)).astype(np.float32)
    full = enc.hidden_states(mel)
    shallow = enc.hidden_states(mel, depth=4)
    assert shallow.shape == (5, 150, 512)
    np.testing.assert_allclose(shallow, full[:5], rtol=1e-4, atol=1e-4)
    audio = np.random.default_rng(2).standard_normal(16000).astype(np.float32) * 0.1
    assert encode(enc, audio, depth=4).output is None  # middle layers are nothing to decode
    with pytest.raises(ValueError, match="depth"):
        enc.hidden_states(mel, depth=7)


@pytest.mark.skipif(not CLIPS, reason="Debian pocketsphinx-testdata is not installed")
def test_last_layer_matches_ctranslate2_and_the_decoder_reads_it(base_folder):
    from faster_whisper import WhisperModel

    from asr.whisper import WhisperRecognizer

    ct2 = WhisperModel(base_folder, device="cpu", compute_type="int8")
    torch_enc = TorchWhisperEncoder.from_folder(base_folder, device="cpu")
    audio = CLIPS[0].audio
    ours, theirs = encode(torch_enc, audio), encode(ct2, audio)
    assert ours.hidden.shape[0] == 7 and theirs.hidden.shape[0] == 1
    assert ours.states.shape == theirs.states.shape
    assert _agreement(ours.states, theirs.states) > 0.99  # CTranslate2 runs int8; we run its weights in fp32
    by_torch = WhisperRecognizer(base_folder, encoder="torch").transcribe(audio)
    by_ct2 = WhisperRecognizer(base_folder, encoder="ctranslate2").transcribe(audio)
    assert normalise(by_torch.text) == normalise(by_ct2.text)
    assert by_torch.encoder_states.shape[0] == 7 and by_ct2.encoder_states.shape[0] == 1


def test_an_int8_model_converted_here_matches_ctranslate2(tmp_path):
    """The hub path: a CTranslate2 conversion with int8 weights (and their scales), of a tiny random
    Whisper the test builds, so no network is needed."""
    ctranslate2 = pytest.importorskip("ctranslate2")
    transformers = pytest.importorskip("transformers")
    from faster_whisper import WhisperModel

    cfg = transformers.WhisperConfig(d_model=64, encoder_layers=2, decoder_layers=1, encoder_attention_heads=4,
                                     decoder_attention_heads=4, encoder_ffn_dim=128, decoder_ffn_dim=128,
                                     num_mel_bins=80, vocab_size=51865, max_source_positions=1500,
                                     max_target_positions=448)
    src = tmp_path / "hf"
    transformers.WhisperForConditionalGeneration(cfg).save_pretrained(src)
    out = tmp_path / "ct2"
    ctranslate2.converters.TransformersConverter(str(src), load_as_float16=False).convert(
        str(out), quantization="int8")
    variables = read_ctranslate2(out / "model.bin")
    assert variables["encoder/layer_0/ffn/linear_0/weight"].dtype == np.int8
    enc = TorchWhisperEncoder(variables, device="cpu")
    mel = np.random.default_rng(1).standard_normal((80, 300)).astype(np.float32)
    ours = enc.hidden_states(mel)
    assert ours.shape == (3, 150, 64)
    ct2 = WhisperModel.__new__(WhisperModel)  # only the CTranslate2 model: no tokenizer in this folder
    ct2.model = ctranslate2.models.Whisper(str(out), device="cpu", compute_type="float32")
    theirs = np.asarray(ct2.model.encode(ctranslate2.StorageView.from_array(mel[None]), to_cpu=True))[0]
    assert _agreement(ours[-1], theirs) > 0.99


def test_not_a_ctranslate2_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model.bin"):
        TorchWhisperEncoder.from_folder(tmp_path)
    (tmp_path / "model.bin").write_bytes(b"\x02\x00\x00\x00")
    with pytest.raises(ValueError, match="binary version 2"):
        TorchWhisperEncoder.from_folder(tmp_path)


def test_device_is_checked(base_folder):
    with pytest.raises(ValueError, match="device"):
        TorchWhisperEncoder.from_folder(base_folder, device="tpu")

