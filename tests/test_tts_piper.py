"""The embedded Piper voice: streaming, cancellation, click-free joins, audible emotion, resampling."""
import threading

import numpy as np
import pytest

from tests.prosody_checks import assert_moves_as_documented

from tts.base import EMOTIONS, AudioChunk
from tts.measure import max_join_jump, prosody_features
from tts.resample import ResampledVoice

pytestmark = pytest.mark.slow

SENTENCES = ["I understand, and I am here with you.", "Tell me a little more about what happened today.",
             "We can take this one step at a time."]


@pytest.fixture(scope="module")
def voice():
    from server.models import ModelMissing, resolve

    from tts.piper import PiperVoice

    try:
        path = resolve("piper-joe")
    except ModelMissing as exc:
        pytest.skip(str(exc))
    return PiperVoice(path, device="cpu")


def render(voice, text, **kw):
    chunks = list(voice.synthesize(text, **kw))
    return chunks, np.concatenate([c.samples for c in chunks])


def test_chunks_carry_rate_size_and_clause_text(voice):
    text = "Oh, I see. That sounds really hard, and I am sorry you are going through it."
    chunks, audio = render(voice, text)
    assert all(isinstance(c, AudioChunk) and c.sample_rate == voice.sample_rate == 22050 for c in chunks)
    assert all(c.samples.dtype == np.float32 and c.samples.ndim == 1 for c in chunks)
    sizes_ms = [1000 * c.samples.size / c.sample_rate for c in chunks]
    assert all(60 <= s <= 200 for s in sizes_ms), sizes_ms
    assert [c.text for c in chunks][0] == "Oh, I see."
    assert {c.text for c in chunks} == {"Oh, I see.", "That sounds really hard, and I am sorry you are going through it."}
    indices = [c.clause_index for c in chunks]
    assert indices == sorted(indices) and set(indices) == {0, 1}
    assert np.abs(audio).max() <= 1.0 and np.sqrt(np.mean(audio**2)) > 0.01


def test_joins_are_click_free_within_and_across_calls(voice):
    text = "Well, I hear you. Thank you for telling me."
    clauses = []  # each clause's audio as one piece: a click can only come where one clause meets the next
    for emotion in ("neutral", "cheerful", "calm"):
        chunks = list(voice.synthesize(text, emotion=emotion))
        for index in sorted({c.clause_index for c in chunks}):
            # inside a clause the chunks are plain cuts of one rendered clause (lossless: test_tts_dsp), so any
            # step there is the speech's own; comparing it with its 32 neighbours flagged natural transients
            clauses.append(np.concatenate([c.samples for c in chunks if c.clause_index == index]))
    assert len(clauses) == 6
    assert max_join_jump(clauses) < 0.02
    assert all(abs(c[0]) < 0.01 and abs(c[-1]) < 0.01 for c in clauses)  # every clause starts and ends at rest


def test_cancel_after_first_chunk_stops_the_stream(voice):
    cancel = threading.Event()
    got = []
    for chunk in voice.synthesize("First part here, then a much longer second part that would take a while. "
                                  "And a third sentence too.", cancel=cancel):
        got.append(chunk)
        cancel.set()
    assert len(got) == 1


def test_cancel_during_inference_aborts_the_model_run(voice, monkeypatch):
    text = "This sentence goes on and on without a single break because it wants to take the model a long time " * 3
    cancel = threading.Event()
    before = voice.aborted_runs
    session, timers = voice._piper.sess, []
    run = session.run

    def run_then_cancel(*args, **kwargs):  # the cancel comes 20 ms into the model's run, however busy the machine
        timers.append(threading.Timer(0.02, cancel.set))
        timers[-1].start()
        return run(*args, **kwargs)

    monkeypatch.setattr(session, "run", run_then_cancel)
    got = list(voice.synthesize(text, cancel=cancel))
    for timer in timers:
        timer.join()
    monkeypatch.undo()
    assert got == []
    assert voice.aborted_runs == before + 1  # onnxruntime stopped midway, not after finishing the clause
    assert list(voice.synthesize("Still working after that.", cancel=threading.Event()))  # the session survives


def test_odd_input_never_crashes(voice):
    assert list(voice.synthesize("")) == []
    assert list(voice.synthesize("  ... !! ")) == []
    assert list(voice.synthesize("Hello there.", emotion="furious", intensity=3.0))
    assert list(voice.synthesize("Hello there.", emotion=None, intensity=None))
    with pytest.raises(TypeError):
        list(voice.synthesize(42))


def features(voice, emotion, intensity=0.5):
    # Two renderings back to back: Piper samples its noise afresh each time, and one rendering's pitch
    # median can stray by a semitone (a CI run measured cheerful at +0.26 st where it is +1.2-1.3 st).
    audio = np.concatenate([render(voice, " ".join(SENTENCES), emotion=emotion, intensity=intensity)[1]
                            for _ in range(2)])
    return prosody_features(audio, voice.sample_rate)


@pytest.fixture(scope="module")
def measured(voice):
    return {e: features(voice, e) for e in EMOTIONS}


def test_emotions_move_prosody_in_the_documented_direction(voice, measured):
    assert_moves_as_documented(voice.profiles, measured, pitch_range=False)


def test_intensity_zero_sounds_neutral(voice, measured):
    m = features(voice, "cheerful", intensity=0.0)
    assert abs(12 * np.log2(m["f0_median_hz"] / measured["neutral"]["f0_median_hz"])) < 1.0
    assert abs(m["rms_db"] - measured["neutral"]["rms_db"]) < 1.0


class Recording:
    """The Piper voice, keeping what it rendered: the resampled stream is compared with that very audio."""

    def __init__(self, voice):
        self.voice, self.sample_rate, self.name, self.chunks = voice, voice.sample_rate, voice.name, []

    def synthesize(self, text, **kw):
        for chunk in self.voice.synthesize(text, **kw):
            self.chunks.append(chunk.samples)
            yield chunk


@pytest.mark.parametrize("rate", [24000, 8000, 16000])
def test_resampled_voice_rates(voice, rate):
    import soxr

    source = Recording(voice)
    chunks = list(ResampledVoice(source, rate).synthesize("Okay, I hear you.", emotion="warm"))
    assert len(source.chunks) > 1 and chunks and all(c.sample_rate == rate for c in chunks)
    out = np.concatenate([c.samples for c in chunks])
    # Chunk by chunk, the stream must give what one pass over the whole rendering gives: joins without a
    # seam (comparing each join's step with its neighbours flagged the speech's own transients at 8 kHz).
    whole = soxr.ResampleStream(voice.sample_rate, rate, 1, dtype="float32", quality="HQ").resample_chunk(
        np.concatenate(source.chunks).astype(np.float32), last=True)
    assert out.size == whole.size
    assert float(np.max(np.abs(out - whole))) < 1e-5
    assert abs(out.size / rate - sum(c.size for c in source.chunks) / voice.sample_rate) < 0.01
    assert {c.text for c in chunks} == {"Okay, I hear you."}


def test_resampled_voice_rejects_bad_rates(voice):
    with pytest.raises(ValueError):
        ResampledVoice(voice, 0)
