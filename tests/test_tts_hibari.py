"""The second voice, hibari heart: text it must read, streaming, cancellation, emotion on its own F0."""
import threading

import numpy as np
import pytest

from tests.prosody_checks import assert_moves_as_documented

from tts.base import EMOTIONS, AudioChunk
from tts.measure import max_join_jump, prosody_features

pytestmark = pytest.mark.slow

SENTENCES = ["I understand, and I am here with you.", "Tell me a little more about what happened today.",
             "We can take this one step at a time."]


@pytest.fixture(scope="module")
def voice():
    from tts.hibari import HibariVoice

    return HibariVoice(device="cpu")


def render(voice, text, **kw):
    chunks = list(voice.synthesize(text, **kw))
    return chunks, np.concatenate([c.samples for c in chunks]) if chunks else np.zeros(0, np.float32)


def seconds(voice, text) -> float:
    return render(voice, text)[1].size / voice.sample_rate


def test_the_catalog_names_it_and_the_factory_builds_it():
    from server.models import CATALOG, voice_names
    from tts import build_voice

    assert CATALOG["hibari-heart"].kind == "voice" and "hibari-heart" in voice_names()
    built = build_voice(voice="hibari-heart", device="cpu")  # the name picks the backend
    assert built.name == "hibari:heart" and built.sample_rate == 24000


def test_a_voice_that_would_download_is_a_clear_error():
    from tts.hibari import HibariVoice

    with pytest.raises(RuntimeError, match="only heart ships"):
        HibariVoice("emma")
    with pytest.raises(ValueError, match="unknown hibari voice"):
        HibariVoice("nobody")


def test_numbers_abbreviations_and_unknown_words_are_read(voice):
    # each addition is spoken, so it lengthens the audio by at least the time of a short word
    assert seconds(voice, "Call 988 tonight.") > seconds(voice, "Call tonight.") + 0.4
    assert seconds(voice, "It costs $12.50 at 7:30 pm.") > seconds(voice, "It costs at.") + 1.0
    assert seconds(voice, "Dr. Smith said so.") > seconds(voice, "Smith said so.") + 0.2
    assert seconds(voice, "The zorbliquax of Qwertyville said so.") > seconds(voice, "The of said so.") + 0.6
    assert seconds(voice, "On the 3rd of March, 1,250 people came.") > 2.0


def test_chunks_carry_rate_size_and_clause_text(voice):
    text = "Oh, I see. That sounds really hard, and I am sorry you are going through it."
    chunks, audio = render(voice, text)
    assert all(isinstance(c, AudioChunk) and c.sample_rate == voice.sample_rate == 24000 for c in chunks)
    sizes_ms = [1000 * c.samples.size / c.sample_rate for c in chunks]
    assert len(chunks) > 5 and all(60 <= s <= 200 for s in sizes_ms), sizes_ms
    assert chunks[0].text == "Oh, I see."
    indices = [c.clause_index for c in chunks]
    assert indices == sorted(indices) and set(indices) == {0, 1}
    assert np.abs(audio).max() <= 1.0 and np.sqrt(np.mean(audio**2)) > 0.01


def test_joins_are_click_free(voice):
    clauses = []
    for emotion in ("neutral", "cheerful", "calm"):
        chunks = list(voice.synthesize("Well, I hear you. Thank you for telling me.", emotion=emotion))
        for index in sorted({c.clause_index for c in chunks}):
            clauses.append(np.concatenate([c.samples for c in chunks if c.clause_index == index]))
    assert len(clauses) == 6
    assert max_join_jump(clauses) < 0.02
    assert all(abs(c[0]) < 0.01 and abs(c[-1]) < 0.01 for c in clauses)


def test_cancel_after_first_chunk_stops_the_stream(voice):
    cancel = threading.Event()
    got = []
    for chunk in voice.synthesize("First part here, then a much longer second part that would take a while. "
                                  "And a third sentence too.", cancel=cancel):
        got.append(chunk)
        cancel.set()
    assert len(got) == 1


def test_cancel_during_the_model_run_yields_nothing_of_that_clause(voice, monkeypatch):
    cancel = threading.Event()
    run = voice._session.run

    def run_then_cancel(*args, **kwargs):  # the barge-in arrives while the model runs
        out = run(*args, **kwargs)
        cancel.set()
        return out

    monkeypatch.setattr(voice, "_session", type("S", (), {"run": staticmethod(run_then_cancel)})())
    assert list(voice.synthesize("A clause that is cut while it renders. And another.", cancel=cancel)) == []
    monkeypatch.undo()
    assert list(voice.synthesize("Still working after that.", cancel=threading.Event()))


def test_odd_input_never_crashes(voice):
    assert list(voice.synthesize("")) == []
    assert list(voice.synthesize("  ... !! ")) == []
    assert list(voice.synthesize("Hello there.", emotion="furious", intensity=3.0))
    with pytest.raises(TypeError):
        list(voice.synthesize(42))


@pytest.fixture(scope="module")
def measured(voice):
    return {e: prosody_features(render(voice, " ".join(SENTENCES), emotion=e)[1], voice.sample_rate,
                                f0_max_hz=voice.f0_max_hz) for e in EMOTIONS}


def test_profiles_move_prosody_in_the_documented_direction(voice, measured):
    assert_moves_as_documented(voice.profiles, measured)


def test_pitch_is_set_on_the_predicted_f0(voice):
    from tts.hibari import shape_f0

    f0 = np.array([0.0, 100.0, 200.0, 400.0, 30.0], np.float32)
    up = shape_f0(f0, 200.0, 12.0, 1.0)
    assert up[0] == 0 and up[4] == 30  # unvoiced frames stay unvoiced
    assert np.allclose(up[1:4], [200, 400, 800])
    flat = shape_f0(f0, 200.0, 0.0, 0.5)
    assert np.allclose(flat[1:4], [200 * 0.5**0.5, 200, 200 * 2**0.5])
