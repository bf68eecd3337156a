"""Whisper on a trimmed window, with the embedded registry models and real recorded speech."""
from __future__ import annotations

import glob
import threading

import numpy as np
import pytest
import soundfile as sf

from asr.whisper import Cancelled, ModelUnavailable, WhisperRecognizer, split_long
from benchmarks.asr import librivox
from benchmarks.data import ASTERISK_SOUNDS
from benchmarks.metrics import normalise, wer
from server.models import ModelMissing, resolve

CLIPS = librivox()
needs_clips = pytest.mark.skipif(not CLIPS, reason="Debian pocketsphinx-testdata is not installed")
ASTERISK = str(ASTERISK_SOUNDS)


def _model(name: str) -> str:
    try:
        return resolve(name)
    except ModelMissing as exc:
        pytest.skip(f"{name}: {exc}")


@pytest.fixture(scope="module")
def tiny() -> WhisperRecognizer:
    return WhisperRecognizer(_model("whisper-tiny.en"), threads=2)


@pytest.fixture(scope="module")
def base() -> WhisperRecognizer:
    return WhisperRecognizer(_model("whisper-base"), threads=2)


def asterisk(name: str) -> np.ndarray:
    import soxr

    path = f"{ASTERISK}/{name}"
    if not glob.glob(path):
        pytest.skip("Debian asterisk-core-sounds-en-wav is not installed")
    audio, rate = sf.read(path, dtype="float32")
    return soxr.resample(audio, rate, 16000)


@needs_clips
@pytest.mark.parametrize("clip", CLIPS, ids=lambda c: c.id[-4:])
def test_base_transcribes_librivox_within_wer(base, clip):
    result = base.transcribe(clip.audio)
    assert wer(clip.text, result.text) <= 0.15, result.text
    assert result.language == "en"
    assert set(result.timings) >= {"encode_s", "decode_s"}


@needs_clips
def test_a_turn_longer_than_whispers_window_is_heard_to_the_end(base):
    gap = np.zeros(4800, np.float32)
    audio = np.concatenate([part for clip in CLIPS + CLIPS for part in (clip.audio, gap)])
    assert len(audio) > 40 * 16000
    text = base.transcribe(audio).text
    assert wer(" ".join(c.text for c in CLIPS + CLIPS), text) <= 0.15, text
    assert normalise(text)[-3:] == normalise(CLIPS[-1].text)[-3:], text  # heard to its last words


def test_long_audio_is_cut_in_its_quiet_moments():
    rng = np.random.default_rng(0)
    audio = rng.normal(0, 0.1, 16000 * 70).astype(np.float32)
    audio[16000 * 25:16000 * 25 + 3200] = 0  # a pause 25 s in, and one at 50 s
    audio[16000 * 50:16000 * 50 + 3200] = 0
    pieces = split_long(audio, 27.0)
    assert [round(len(p) / 16000) for p in pieces] == [25, 25, 20]
    assert np.array_equal(np.concatenate(pieces), audio)
    assert len(split_long(audio[:16000 * 20], 27.0)) == 1


@needs_clips
def test_trimmed_window_keeps_the_words_of_the_30s_window(tiny):
    same = 0
    for clip in CLIPS:
        segments, _ = tiny.model.transcribe(clip.audio, language="en", beam_size=1, without_timestamps=True,
                                            condition_on_previous_text=False, vad_filter=False)
        full = " ".join(s.text for s in segments)
        same += normalise(full) == normalise(tiny.transcribe(clip.audio).text)
    assert same >= 4


@needs_clips
def test_encoder_states_cover_the_audio():
    clip = CLIPS[0]
    result = WhisperRecognizer(_model("whisper-tiny.en"), threads=2, encoder="torch").transcribe(clip.audio)
    states = result.encoder_states  # tiny.en: the input embedding and 4 layers of 384
    assert states.dtype == np.float32 and states.shape[0] == 5 and states.shape[2] == 384
    assert abs(states.shape[1] - len(clip.audio) / 16000 * 50) <= 2  # 50 encoder states per second
    assert np.isfinite(states).all() and min(s.std() for s in states) > 0


@pytest.mark.parametrize("kind", ["silence", "white_noise", "room_tone", "blip", "empty"])
def test_no_words_invented_on_silence_or_noise(tiny, kind):
    rng = np.random.default_rng(0)
    audio = {"silence": np.zeros(32000, np.float32),
             "white_noise": rng.normal(0, 0.05, 48000).astype(np.float32),
             "room_tone": rng.normal(0, 10 ** (-65 / 20), 32000).astype(np.float32),
             "blip": np.zeros(1000, np.float32),  # < 0.1 s
             "empty": np.zeros(0, np.float32)}[kind]
    assert tiny.transcribe(audio).text == ""


def test_base_invents_nothing_on_silence(base):
    assert base.transcribe(np.zeros(24000, np.float32)).text == ""


@pytest.mark.parametrize("name,words", [("digits/4.wav", ["four"]), ("with.wav", ["with"]),
                                        ("digits/3.wav", ["three"])])
def test_one_short_word_is_not_repeated(tiny, name, words):
    # On a window of 1 s of speech + 3 s of silence tiny.en loops ("4 4 4 4 4 4"); the retry fixes it.
    assert normalise(tiny.transcribe(asterisk(name)).text) == words


@pytest.mark.parametrize("name,words", [("digits/6.wav", ["six"]), ("digits/8.wav", ["eight"])])
def test_base_does_not_double_a_short_word(base, name, words):
    # base said "6 6" and "8 8" here on a 6 s window; a whole output that is one phrase twice is decoded again.
    assert normalise(base.transcribe(asterisk(name)).text) == words


def test_language_detection_on_a_multilingual_model():
    rec = WhisperRecognizer(_model("whisper-base"), language=None)
    if not CLIPS:
        pytest.skip("Debian pocketsphinx-testdata is not installed")
    assert rec.transcribe(CLIPS[1].audio).language == "en"


def test_cancel_before_work_raises(tiny):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        tiny.transcribe(np.zeros(16000, np.float32), cancel=cancel)


@pytest.mark.parametrize("audio", [np.zeros((2, 16000), np.float32), np.zeros(16000, np.int16),
                                   np.full(16000, np.nan, np.float32)])
def test_bad_audio_is_a_clear_error(tiny, audio):
    with pytest.raises(ValueError):
        tiny.transcribe(audio)


def test_hub_name_not_in_cache_is_a_clear_error(tmp_path):
    # local_files_only keeps the test off the network; without it the same error follows a failed download.
    with pytest.raises(ModelUnavailable, match="not available locally"):
        WhisperRecognizer("small", download_root=str(tmp_path), local_files_only=True)
    with pytest.raises(ModelUnavailable):
        WhisperRecognizer("someone/whisper-nope", download_root=str(tmp_path), local_files_only=True)


def test_bad_model_names_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown Whisper model"):
        WhisperRecognizer("gigantic")
    with pytest.raises(FileNotFoundError):
        WhisperRecognizer(str(tmp_path / "missing" / "folder"))
    with pytest.raises(FileNotFoundError, match="model.bin"):
        WhisperRecognizer(str(tmp_path))
    with pytest.raises(ValueError, match="English-only"):
        WhisperRecognizer(_model("whisper-tiny.en"), language="de")
    with pytest.raises(ValueError):
        WhisperRecognizer(_model("whisper-tiny.en"), device="tpu")


@pytest.mark.parametrize("text, phrase", [
    ("6 6", "6"), ("Hamal Hamal", "Hamal"),
    ("Kids are talking by the door. Kids are talking by the door. Kids are", "Kids are talking by the door."),
    ("Kids are talking by the door.", None), ("I said no, no, no to him", None), ("", None)])
def test_a_phrase_said_again_and_again_is_found_once(text, phrase):
    from asr.whisper import _repeated_phrase

    assert _repeated_phrase(text) == phrase
