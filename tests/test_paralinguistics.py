"""The voice analyser on real clips: style from the signal, the trained heads, and bad input."""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from benchmarks.data import ASTERISK_SOUNDS, LIBRIVOX
from paralinguistics.analyser import VoiceAnalyser
from paralinguistics.audio import condition

MALE_CLIP = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav"  # a man reading
ASTERISK = ASTERISK_SOUNDS  # one woman's phone prompts, 8 kHz
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "paralinguistics"

pytestmark = pytest.mark.slow


def load(path: Path) -> np.ndarray:
    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    x = x.mean(1)
    return soxr.resample(x, sr, 16000).astype(np.float32) if sr != 16000 else x


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not installed")
    return path


def espeak(tmp_path: Path, voice: str, text: str) -> np.ndarray:
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is not installed")
    out = tmp_path / f"{voice.replace('+', '_')}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(out), text], check=True)
    return load(out)


def sox(tmp_path: Path, src: Path, *effect: str) -> np.ndarray:
    if not shutil.which("sox"):
        pytest.skip("sox is not installed")
    out = tmp_path / "sox.wav"
    subprocess.run(["sox", str(src), str(out), *effect], check=True)
    return load(out)


def vibrato(x: np.ndarray, hz: float = 6.0, semitones: float = 1.5) -> np.ndarray:
    """A trembling voice: the pitch wobbles +-`semitones` `hz` times a second (time-warped resampling)."""
    t = np.arange(len(x)) / 16000
    depth = (2 ** (semitones / 12) - 1) / (2 * np.pi * hz)
    return np.interp(t + depth * np.sin(2 * np.pi * hz * t), t, x).astype(np.float32)


@pytest.fixture(scope="module")
def analyser() -> VoiceAnalyser:
    return VoiceAnalyser(device="cpu")


@pytest.fixture(scope="module")
def male(analyser):
    return analyser.analyse(load(need(MALE_CLIP)))


# ---------------------------------------------------------------- style measured from the signal
def test_whispered_speech_is_whispering(analyser, tmp_path):
    text = "I really do not want to talk about this right now, please leave me alone"
    whispered = analyser.analyse(espeak(tmp_path, "en+whisper", text))
    spoken = analyser.analyse(espeak(tmp_path, "en", text))
    assert whispered.style["whispering"] is True
    assert spoken.style["whispering"] is False
    assert whispered.style["voiced_ratio"] < spoken.style["voiced_ratio"] / 3


def test_time_stretched_clip_is_faster(analyser, male, tmp_path):
    fast = analyser.analyse(sox(tmp_path, need(MALE_CLIP), "tempo", "2.0"))
    assert fast.style["rate_syl_s"] > 1.3 * male.style["rate_syl_s"]
    assert male.style["rate_syl_s"] > 2.0  # a man reading aloud: a few syllables a second


def test_whisper_over_the_telephone_band_is_whispering(analyser):
    """A real 8 kHz prompt, whispered (its envelope over noise): band-limited noise throws up pitch-like
    autocorrelation peaks, which must not read as a voice."""
    from benchmarks.style import whispered

    prompt = load(need(ASTERISK / "agent-newlocation.wav"))
    assert analyser.analyse(prompt).style["whispering"] is False
    assert analyser.analyse(whispered(prompt)).style["whispering"] is True


def test_rate_from_the_transcript_follows_a_slowdown(analyser, tmp_path):
    """Energy peaks over-count stretched vowels; the recogniser's words give the rate at any tempo."""
    words = "he was not an ill disposed young man"
    clip = need(LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav")
    usual = analyser.analyse(load(clip), transcript=words).style
    slow = analyser.analyse(sox(tmp_path, clip, "tempo", "-s", "0.67"), transcript=words).style
    assert usual["rate_from"] == slow["rate_from"] == "transcript"
    assert 0.55 < slow["rate_syl_s"] / usual["rate_syl_s"] < 0.8


def test_text_syllables():
    from paralinguistics.prosody import text_syllables

    assert text_syllables("he was not an ill disposed young man") == 9
    assert text_syllables("I made a little table") == 7
    assert text_syllables("call 911, or 7") == 7  # call nine one one or se-ven
    assert text_syllables("") == 0


def test_vibrato_is_trembling(analyser, male):
    shaky = analyser.analyse(vibrato(load(MALE_CLIP)))
    assert male.style["trembling"] is False
    assert shaky.style["trembling"] is True
    assert shaky.style["tremor_st"] > male.style["tremor_st"]


def test_pitch_level_follows_the_voice(male, analyser):
    woman = analyser.analyse(load(need(ASTERISK / "hello-world.wav")))
    assert 60 < male.style["pitch_hz"] < 150
    assert woman.style["pitch_hz"] > 1.4 * male.style["pitch_hz"]


def test_baseline_reports_a_change_only_once_it_knows_the_speaker(analyser, tmp_path):
    clips = sorted(LIBRIVOX.glob("*.wav"))
    if len(clips) < 4:
        pytest.skip("pocketsphinx-testdata is not installed")
    baseline = analyser.new_baseline()
    first = analyser.analyse(load(clips[0]), baseline=baseline)
    assert first.style["relative"] is None
    for c in clips[1:4]:
        analyser.analyse(load(c), baseline=baseline)
    fast = analyser.analyse(sox(tmp_path, clips[3], "tempo", "2.0"), baseline=baseline)
    rel = fast.style["relative"]
    assert rel is not None and rel["rate_syl_s"]["vs_usual"] == "faster"
    loud = analyser.analyse(np.clip(load(clips[4]) * 4.0, -1, 1), baseline=baseline)
    assert loud.style["relative"]["loudness_dbfs"]["vs_usual"] == "louder"


def test_words_that_arrive_during_the_analysis_are_read_and_no_words_teach_nothing(analyser):
    """Beside the recogniser, the analysis takes the transcript as a callable; None (no words) learns nothing."""
    clips = sorted(LIBRIVOX.glob("*.wav"))
    if len(clips) < 2:
        pytest.skip("pocketsphinx-testdata is not installed")
    audio, words = load(clips[1]), "he was not an ill disposed young man"
    given = analyser.analyse(audio, baseline=analyser.new_baseline(), transcript=words)
    later = analyser.analyse(audio, baseline=analyser.new_baseline(), transcript=lambda: words)
    assert later.style["rate_from"] == given.style["rate_from"] == "transcript"
    assert later.style["rate_syl_s"] == given.style["rate_syl_s"] and later.emotion.label == given.emotion.label
    baseline = analyser.new_baseline()
    nothing = analyser.analyse(audio, baseline=baseline, transcript=lambda: None)
    assert nothing.unknown and "no words" in nothing.reason
    first = analyser.analyse(audio, baseline=baseline, transcript=words)
    assert first.style["relative"] is None and first.gender_turns == 1  # the wordless turn was not counted


# ---------------------------------------------------------------- the trained heads
def test_gender_of_a_man_and_a_woman(analyser, male):
    woman = analyser.analyse(load(need(ASTERISK / "hello-world.wav")))
    assert male.gender.label == "male"
    assert woman.gender.label == "female"


def test_profile_is_complete_and_json(male):
    d = json.loads(json.dumps(male.to_dict()))
    assert d["unknown"] is False
    assert set(d["emotion"]["distribution"]) == {"neutral", "calm", "happy", "sad", "angry", "fearful", "disgust",
                                                 "surprised"}
    assert abs(sum(d["emotion"]["distribution"].values()) - 1) < 1e-3
    assert -1 <= d["valence"] <= 1 and -1 <= d["arousal"] <= 1
    assert d["age_group"]["label"] in {"child", "teen", "adult", "elderly", "unknown"}
    assert d["events"] == []  # a man reading is not a vocal event
    assert {"prosody", "heads", "encoder", "total"} <= set(d["timings_ms"])


def _shared_clips(label: str, n: int = 3) -> list[Path]:
    manifest = SHARED / "manifest.csv"
    if not manifest.exists():
        pytest.skip("the labelled speech folder ../shared/data/paralinguistics is absent")
    with open(manifest) as f:
        rows = [r for r in csv.DictReader(f) if r["label"] == label]
    return [SHARED / r["path"] for r in rows[:n]]


def test_crying_clip_yields_crying(analyser):
    hits = [[e.label for e in analyser.analyse(load(p)).events] for p in _shared_clips("crying")]
    assert sum("crying" in h for h in hits) >= 2, hits


def test_angry_speech_is_aroused(analyser):
    angry = [analyser.analyse(load(p)) for p in _shared_clips("angry")]
    calm = [analyser.analyse(load(p)) for p in _shared_clips("calm")]
    assert np.mean([p.arousal for p in angry]) > np.mean([p.arousal for p in calm])


def test_reuses_the_asr_encoder_states(analyser, male):
    from asr.encoder import encode

    audio = condition(load(MALE_CLIP))[0]  # what the analyser itself encodes (DC removed)
    enc = encode(analyser._encoder(), audio)
    shared = analyser.analyse(audio, encoder_states=enc.hidden[:, : enc.audio_frames])
    assert "encoder" not in shared.timings_ms
    assert shared.emotion.label == male.emotion.label
    a = np.array(list(shared.emotion.distribution.values()))
    b = np.array(list(male.emotion.distribution.values()))
    assert np.abs(a - b).max() < 1e-4


def test_the_own_pass_runs_only_the_layers_the_heads_read(analyser):
    from paralinguistics.analyser import _deepest_layer
    from paralinguistics.heads import Head

    def head(**kw) -> Head:
        return Head(task="t", labels=(), params={}, **kw)

    assert _deepest_layer([head(layers=(2, 3, 4)), head(layers=(), speaker=True)]) == 4
    assert _deepest_layer([head(layers=(2, 3)), head(layers=(2,), frame_stats=True)]) is None  # reads the output
    reads_output = any(h.frame_stats or h.attention for h in analyser.heads.values())
    deepest = max(i for h in analyser.heads.values() for i in h.layers)
    states = analyser.encoder_states(condition(load(MALE_CLIP))[0])
    assert states.shape[0] == (7 if reads_output else deepest + 1)


def test_frame_statistics_keep_a_short_event_the_mean_loses():
    from paralinguistics.features import frame_stats, pool

    frames = np.zeros((100, 4), np.float32)
    frames[50, 1] = 5.0  # one frame of a click
    stats = frame_stats(frames)
    assert stats.shape == (8,) and stats[1] == 5.0 and stats[5] == 0.0  # max sees it; the 90th percentile not
    assert pool(frames)[1] == pytest.approx(0.05)
    with pytest.raises(ValueError, match="frames"):
        frame_stats(np.zeros((0, 4)))


def test_output_only_states_are_reencoded_quietly(analyser, male):
    """What a CTranslate2-encoder recogniser hands over: its output only, which the heads do not read."""
    states = np.random.default_rng(0).standard_normal((1, 100, 512)).astype(np.float32)
    p = analyser.analyse(load(MALE_CLIP), encoder_states=states)
    assert "encoder" in p.timings_ms and not p.warnings
    assert p.emotion.distribution == male.emotion.distribution


@pytest.mark.parametrize("shape", [(5, 100, 384), (100, 512)], ids=["tiny.en layers", "2-D"])
def test_states_the_heads_cannot_read_are_reencoded(analyser, male, shape):
    states = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    p = analyser.analyse(load(MALE_CLIP), encoder_states=states)
    assert "encoder" in p.timings_ms and any(str(shape) in w for w in p.warnings)
    assert p.gender.label == male.gender.label


# ---------------------------------------------------------------- bad audio: "unknown", never a crash
@pytest.mark.parametrize("name,audio", [
    ("empty", np.zeros(0, np.float32)),
    ("silence", np.zeros(32000, np.float32)),
    ("dc only", np.full(32000, 0.4, np.float32)),
    ("very short", (0.3 * np.sin(np.arange(3200) * 0.1)).astype(np.float32)),
    ("hard clipped", np.clip(np.sin(np.arange(32000) * 0.05) * 50, -1, 1).astype(np.float32)),
])
def test_unusable_audio_is_unknown(analyser, name, audio):
    p = analyser.analyse(audio)
    d = json.loads(json.dumps(p.to_dict()))
    assert d["unknown"] is True and d["reason"]
    assert d["emotion"]["label"] == "unknown" and d["gender"]["label"] == "unknown" and d["events"] == []


def test_clipped_real_speech_is_unknown(analyser):
    p = analyser.analyse(np.clip(load(need(MALE_CLIP)) * 30, -1, 1))
    assert p.unknown and "clipped" in p.reason


def test_dc_offset_is_removed(analyser, male):
    p = analyser.analyse(load(MALE_CLIP) + 0.2)
    assert not p.unknown and any("DC" in w for w in p.warnings)
    assert p.gender.label == male.gender.label
    assert abs(p.style["pitch_hz"] - male.style["pitch_hz"]) < 5


def test_pcm16_input_is_accepted(analyser, male):
    pcm = (load(MALE_CLIP) * 32767).astype(np.int16)
    assert analyser.analyse(pcm).gender.label == male.gender.label


@pytest.mark.parametrize("bad", [np.array([0.1, np.nan] * 8000), np.zeros((2, 16000)), "not audio",
                                 np.array(["a"] * 10)])
def test_garbage_raises_a_clear_error(bad):
    with pytest.raises(ValueError):
        condition(bad)


def test_perceive_writes_one_line_per_clip(tmp_path):
    from paralinguistics import perceive

    clips = sorted(LIBRIVOX.glob("*.wav"))[:2]
    if not clips:
        pytest.skip("pocketsphinx-testdata is not installed")
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label,gender\n" + "".join(f"{c.name},neutral,M\n" for c in clips) + "missing.wav,sad,F\n")
    out = tmp_path / "preds.jsonl"
    assert perceive.main(["--manifest", str(manifest), "--root", str(LIBRIVOX), "--out", str(out),
                          "--device", "cpu"]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["path"] for r in lines] == [c.name for c in clips] + ["missing.wav"]
    assert lines[0]["truth"] == {"label": "neutral", "gender": "M"}
    assert lines[0]["gender"]["label"] == "male" and not lines[0]["unknown"]
    assert "error" in lines[2] and lines[2]["unknown"] is True


def test_perceive_rejects_a_manifest_without_paths(tmp_path):
    from paralinguistics import perceive

    bad = tmp_path / "bad.csv"
    bad.write_text("file,label\na.wav,sad\n")
    assert perceive.main(["--manifest", str(bad), "--root", str(tmp_path), "--out", str(tmp_path / "o")]) == 2


def test_a_user_can_retrain_on_their_own_folder(tmp_path, monkeypatch):
    """The training script, run the way a user runs it, on a tiny labelled folder of one's own; the
    analyser then loads those heads."""
    import os
    import sys

    men = sorted(LIBRIVOX.glob("*.wav"))[:4]
    women = [ASTERISK / n for n in ("hello-world.wav", "demo-thanks.wav", "auth-thankyou.wav", "vm-goodbye.wav")]
    if len(men) < 4 or not all(w.exists() for w in women):
        pytest.skip("pocketsphinx-testdata or asterisk sounds are not installed")
    rows = [f"{p},mine,emotion,{'neutral' if i % 2 else 'sad'},spk{i},{g},\n"
            for g, group in (("M", men), ("F", women)) for i, p in enumerate(group)]
    manifest = tmp_path / "mine.csv"
    manifest.write_text("path,dataset,task,label,speaker,gender,age\n" + "".join(rows))
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}  # the feature cache stays out of the real one
    out = tmp_path / "heads"
    run = subprocess.run([sys.executable, "-m", "paralinguistics.train", "--manifest", str(manifest), "--root", "/",
                          "--out", str(out), "--no-cv", "--conditions", "clean", "--tasks", "emotion,gender,age,events",
                          "--ordinary-speech", "none"],
                         env=env, cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    unknown = subprocess.run([sys.executable, "-m", "paralinguistics.train", "--manifest", str(manifest), "--root", "/",
                              "--out", str(tmp_path / "none"), "--no-cv", "--exclude-speakers", "nobody",
                              "--ordinary-speech", "none"],
                             env=env, cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=600)
    assert unknown.returncode == 2 and "nobody" in unknown.stderr
    mine = VoiceAnalyser(device="cpu", models_dir=out)
    assert {h.task for h in mine.heads.values()} == {"emotion", "gender"}  # age and events had nothing to learn from
    assert sorted(h.speaker for h in mine.heads.values() if h.task == "gender") == [False, True]  # the ensemble
    p = mine.analyse(load(men[0]))
    assert not p.unknown and p.events == [] and p.age_group.label == "unknown"
    assert "speaker" in p.timings_ms and not p.warnings


def test_ordinary_speech_for_training_leaves_the_benchmarks_prompts_out(tmp_path):
    from paralinguistics import ordinary
    from paralinguistics.dataset import read_manifest

    held = ordinary.held_out_prompts()
    if not held:
        pytest.skip("Debian asterisk-core-sounds-en-wav is not installed")
    train = ordinary.training_prompts()
    assert len(held) == ordinary.HELD_OUT_PROMPTS and not set(held) & set(train)
    assert all(p.parent.name not in ordinary.SKIP_FOLDERS for p in train)
    clips = read_manifest(ordinary.write_manifest(tmp_path / "o.csv"))
    assert len(clips) == len(train) and {(c.task, c.label, c.gender) for c in clips} == {("vocal_event", "none", "")}
    assert (ordinary.ASTERISK_SOUNDS / clips[0].path).exists()
    assert ordinary.write_manifest(tmp_path / "x.csv", root=tmp_path / "absent") is None


def test_a_head_keeps_the_layers_it_reads(tmp_path):
    from paralinguistics.features import pool_layers
    from paralinguistics.heads import Head, load, save

    rng = np.random.default_rng(0)
    dim = 2 * 2 * 8 + 13
    head = Head(task="emotion", labels=("a", "b"), layers=(2, 4), params={
        "mean": np.zeros(dim, np.float32), "scale": np.ones(dim, np.float32),
        "w2": rng.standard_normal((dim, 2)).astype(np.float32), "b2": np.zeros(2, np.float32)})
    save({"emotion": head}, tmp_path, {})
    back = load(tmp_path)[0]["emotion"]
    assert back.layers == (2, 4)
    hidden = rng.standard_normal((7, 30, 8)).astype(np.float32)
    pooled = pool_layers(hidden, back.layers)
    assert pooled.shape == (32,) and np.allclose(pooled[:8], hidden[2].mean(0))
    assert np.allclose(back.predict(pooled, np.zeros(13)), head.predict(pooled, np.zeros(13)), atol=1e-2)
    with pytest.raises(ValueError, match="layers, frames, dim"):
        pool_layers(hidden[0], back.layers)


def test_an_unknown_device_is_refused_up_front():
    with pytest.raises(ValueError, match="device"):
        VoiceAnalyser(device="tpu")


def test_gender_is_scored_on_every_class_even_for_a_one_gender_corpus():
    """TESS has two women: a head calling a third of them male must not score 1.0 there."""
    from paralinguistics.dataset import Clip
    from paralinguistics.train import score

    fields = {f: "" for f in Clip.__dataclass_fields__}
    clips = [Clip(**{**fields, "path": f"{i}.wav", "dataset": "tess" if i < 6 else "ravdess", "task": "emotion",
                     "speaker": "s", "gender": "F" if i < 9 else "M", "age": None}) for i in range(12)]
    y = np.array([0] * 9 + [1] * 3)
    prob = np.array([[0.9, 0.1]] * 4 + [[0.2, 0.8]] * 2 + [[0.9, 0.1]] * 3 + [[0.1, 0.9]] * 3)
    s = score("gender", prob, y, clips)
    assert s["tess"]["balanced_accuracy"] == pytest.approx(4 / 6, abs=1e-3)
    assert s["tess"]["recall"] == {"female": pytest.approx(0.667, abs=1e-3)}
    assert s["ravdess"]["balanced_accuracy"] == 1.0


def test_offsets_correct_a_head_that_leans_to_one_class_and_are_scored_out_of_fold():
    from paralinguistics.train import corpus_balanced_accuracy, cross_fitted_offsets, fit_offsets

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 600)
    logits = np.stack([np.zeros(600), (2 * y - 1) * 1.0 + 1.5 + rng.normal(0, 0.5, 600)], 1)  # leans to class 1
    corpus = np.array(["a", "b"] * 300)
    fold = np.arange(600) % 6
    before = corpus_balanced_accuracy(logits.argmax(1), y, corpus)
    off = fit_offsets(logits, y, corpus)
    assert off[0] == 0 and -2.5 < off[1] < -0.5
    crossed = cross_fitted_offsets({"clean": logits}, y, corpus, fold)["clean"]
    assert corpus_balanced_accuracy(crossed.argmax(1), y, corpus) > before + 0.2
    rest = fold != 0  # fold 0's offsets come from the other folds alone
    np.testing.assert_allclose(crossed[fold == 0] - logits[fold == 0],
                               np.broadcast_to(fit_offsets(logits[rest], y[rest], corpus[rest]), (100, 2)))


def test_speed_copies_teach_only_the_training_clips_of_the_corpora_asked_for():
    from paralinguistics.train import speed_rows

    corpus = np.array(["deeply_nonverbal"] * 4 + ["ravdess"] * 2)
    index = np.array([0, 1, 2, 3, 4, 5])  # copy i is of clip i
    train = np.array([0, 2, 3, 4])  # clip 1 is in the test fold
    assert speed_rows(index, train, corpus, ("deeply_nonverbal",)).tolist() == [0, 2, 3]


def test_gender_is_read_over_the_conversation(analyser):
    """One unsure turn of a clear voice: with the earlier turns it is no longer unsure."""
    b = analyser.new_baseline()
    first, second = b.gender_over_turns([0.9, 0.1]), b.gender_over_turns([0.4, 0.6])
    assert first == ([pytest.approx(0.9), pytest.approx(0.1)], 1)
    assert second[1] == 2 and second[0][0] > 0.6  # the mean log-probability still says female
    men = sorted(LIBRIVOX.glob("*.wav"))[:3]
    if not men:
        pytest.skip("pocketsphinx-testdata is not installed")
    b = analyser.new_baseline()
    turns = [analyser.analyse(load(p), baseline=b) for p in men]
    assert [t.to_dict()["gender"]["turns"] for t in turns] == [1, 2, 3]
    assert turns[-1].gender.label == "male"
    assert analyser.analyse(load(men[0])).to_dict()["gender"]["turns"] == 1  # no baseline: this turn alone


def test_conversation_accuracy_reads_a_speaker_over_several_clips():
    from paralinguistics.train import conversation_accuracy

    y = np.array([0] * 5 + [1] * 5)
    speaker = np.array(["a"] * 5 + ["b"] * 5)
    prob = np.array([[0.4, 0.6]] + [[0.9, 0.1]] * 4 + [[0.1, 0.9]] * 5)  # one of a's clips sounds male
    one = conversation_accuracy(prob, y, speaker, 1)
    assert 0.85 < one < 0.95  # a: 4/5 right, b: all right
    assert conversation_accuracy(prob, y, speaker, 5) == 1.0


def test_a_task_whose_heads_are_an_ensemble_averages_their_logits(tmp_path):
    from paralinguistics.heads import Head, ensemble_predict, load, save, softmax

    rng = np.random.default_rng(1)
    dim = 2 * 8 + 13

    def head(speaker: bool) -> Head:
        d = dim + (256 if speaker else 0)
        return Head(task="gender", labels=("female", "male"), layers=(3,), speaker=speaker, params={
            "mean": np.zeros(d, np.float32), "scale": np.ones(d, np.float32),
            "w2": rng.standard_normal((d, 2)).astype(np.float32), "b2": np.zeros(2, np.float32)})

    save({"gender": head(False), "gender-1": head(True)}, tmp_path, {})
    back, _ = load(tmp_path)
    assert {n: (h.task, h.speaker) for n, h in back.items()} == {"gender": ("gender", False), "gender-1": ("gender", True)}
    pooled, pros, emb = rng.standard_normal(16), rng.standard_normal(13), rng.standard_normal(256)
    with pytest.raises(ValueError, match="speaker embedding"):
        back["gender-1"].logits(pooled, pros)
    z = [h.logits(pooled, pros, None, emb) for h in back.values()]
    assert np.allclose(ensemble_predict({"gender": z})["gender"], softmax((z[0] + z[1]) / 2))
    from paralinguistics.train import head_logits  # training's rows are laid out the way `logits` lays them out

    row = np.concatenate([pooled, pros, emb])[None]
    assert np.allclose(head_logits(back["gender-1"], row, None)[0], z[1])


def test_a_kind_only_member_says_which_event_but_not_whether(tmp_path):
    from paralinguistics.heads import Head, fuse, load, save, softmax

    detector = np.array([[4.0, 1.0, 0.0], [-2.0, 0.0, 1.0]])  # sure there is no event; sure there is one
    kinds = np.array([[9.0, -5.0, 5.0], [9.0, 3.0, -3.0]])  # its class-0 logit (9) must not count
    p = fuse([detector, kinds], [False, True])
    assert np.allclose(p[:, 0], softmax(detector)[:, 0])  # whether: the detector's alone
    which = softmax(((detector + kinds) / 2)[:, 1:])  # which: every member's mean
    assert np.allclose(p[:, 1:], (1 - p[:, :1]) * which) and np.allclose(p.sum(1), 1)
    assert p[1, 1] > p[1, 2]  # the kinds member turned the detector's choice of event around
    assert np.allclose(fuse([detector, kinds]), softmax((detector + kinds) / 2))  # no flags: a plain mean
    assert np.allclose(fuse([kinds], [True]), softmax(kinds))  # no detector left: the members as they are
    d = 29
    head = Head(task="events", labels=("none", "a", "b"), layers=(3,), kind_only=True, params={
        "mean": np.zeros(d, np.float32), "scale": np.ones(d, np.float32),
        "w2": np.ones((d, 3), np.float32), "b2": np.zeros(3, np.float32)})
    save({"events-1": head}, tmp_path, {})
    assert load(tmp_path)[0]["events-1"].kind_only


def test_without_the_speaker_encoder_gender_comes_from_the_other_member(male, monkeypatch):
    """A speaker encoder that cannot load costs its member of the gender ensemble, with a warning; the rest stands."""
    from paralinguistics import speaker

    monkeypatch.setattr(speaker, "weights_path", lambda: Path("/nonexistent/pretrained.pt"))
    broken = VoiceAnalyser(device="cpu")
    assert any(h.speaker for h in broken.heads.values()), "the shipped gender ensemble reads the speaker embedding"
    p = broken.analyse(load(need(MALE_CLIP)))
    assert any("speaker encoder unavailable" in w for w in p.warnings)
    assert p.gender.label == "male" and p.emotion.label != "unknown"
    assert "speaker" in male.timings_ms and not male.warnings


def test_a_stacked_fusion_trusts_the_informative_member_and_folds_into_the_heads():
    """The stack learns a large weight for a member that knows the labels and a small one for noise; folded
    into the heads' temperatures and biases, their plain mean (what the analyser takes) is the stack."""
    from paralinguistics.heads import Head, ensemble_predict, softmax
    from paralinguistics.train import cross_fitted_stack, fit_stack, fold_stack_into, stacked

    rng = np.random.default_rng(0)
    n = 600
    y = rng.integers(0, 2, n)
    good = np.stack([np.zeros(n), 2.0 * (y - 0.5) + rng.normal(0, 0.5, n) + 1.0], 1)  # leans to class 1
    noise = rng.normal(0, 2.0, (n, 2))
    groups = np.array([f"s{i % 30}" for i in range(n)])
    w, b = fit_stack([good, noise], y, groups)
    assert w[0] > 5 * w[1] and b[0] == 0 and b[1] < -0.5  # the bias takes the lean back
    fused = stacked([good, noise], w, b)
    assert np.mean(fused.argmax(1) == y) > np.mean(good.argmax(1) == y)

    fold = np.arange(n) % 6
    crossed = cross_fitted_stack([{"clean": good}, {"clean": noise}], y, groups, fold)["clean"]
    rest = fold != 0
    w0, b0 = fit_stack([good[rest], noise[rest]], y[rest], groups[rest])
    assert np.allclose(crossed[~rest], stacked([good[~rest], noise[~rest]], w0, b0), atol=1e-5)

    heads = []
    for member in (good, noise):  # heads whose raw logits are the members' (identity output layer on x)
        heads.append(Head(task="gender", labels=("female", "male"), params={
            "mean": np.zeros(2, np.float32), "scale": np.ones(2, np.float32),
            "w2": np.eye(2, dtype=np.float32), "b2": np.zeros(2, np.float32)}))
    fold_stack_into(heads, w, b)
    z = {"gender": [np.stack([h.logits_of(r) for r in m[:20]]) for h, m in zip(heads, (good, noise))]}
    assert np.allclose(ensemble_predict(z)["gender"], softmax(fused[:20]), atol=1e-5)


def test_a_settled_gender_is_not_read_again_until_the_pitch_says_another_voice(analyser):
    """Three clear turns of a man settle his gender: later turns skip the gender heads and their speaker
    embedding; a turn an octave higher (another voice?) is read again and counted."""
    from paralinguistics.baseline import GENDER_SETTLED_TURNS

    clip = load(need(MALE_CLIP))
    b = analyser.new_baseline()
    turns = [analyser.analyse(clip, baseline=b) for _ in range(GENDER_SETTLED_TURNS + 1)]
    assert [t.gender_settled for t in turns] == [False] * GENDER_SETTLED_TURNS + [True]
    assert all("speaker" in t.timings_ms for t in turns[:-1]) and "speaker" not in turns[-1].timings_ms
    assert turns[-1].gender.label == "male" and turns[-1].to_dict()["gender"]["turns"] == GENDER_SETTLED_TURNS
    assert turns[-1].emotion.label != "unknown"  # the other heads still run
    octave_up = soxr_pitch_up(clip)
    again = analyser.analyse(octave_up, baseline=b)
    assert not again.gender_settled and "speaker" in again.timings_ms
    assert again.to_dict()["gender"]["turns"] == GENDER_SETTLED_TURNS + 1


def soxr_pitch_up(x: np.ndarray) -> np.ndarray:
    """An octave up, same length: resampled to half as many samples, repeated (pitch is what is checked)."""
    import soxr

    half = soxr.resample(x, 32000, 16000).astype(np.float32)
    return np.concatenate([half, half])[: len(x)]


def test_only_a_pitch_move_toward_the_other_gender_reopens_a_settled_gender():
    """A settled man who shouts (higher) may be someone else; one who speaks low and sad is still him. The
    reverse for a woman. Below three turns or 0.8 nothing is settled."""
    from paralinguistics.baseline import SpeakerBaseline
    from paralinguistics.prosody import Style

    def turn(hz):
        return Style(speech_s=2.0, rate_syl_s=4.0, loudness_dbfs=-20.0, pitch_hz=hz, pitch_range_st=4.0,
                     voiced_ratio=0.7, hf_ratio=0.1, tremor_st=0.3, jitter=0.01)

    for probs, usual, toward_other, away in (([0.05, 0.95], 120.0, 200.0, 70.0), ([0.95, 0.05], 220.0, 130.0, 380.0)):
        b = SpeakerBaseline()
        for i in range(3):
            assert b.settled_gender(turn(usual)) is None  # fewer than three turns read
            b.gender_over_turns(probs)
            b.compare_and_update(turn(usual))
        settled = b.settled_gender(turn(usual))
        assert settled is not None and settled[1] == 3 and np.argmax(settled[0]) == np.argmax(probs)
        assert b.settled_gender(turn(away)) is not None
        assert b.settled_gender(turn(toward_other)) is None
    unsure = SpeakerBaseline()
    for _ in range(3):
        unsure.gender_over_turns([0.3, 0.7])
        unsure.compare_and_update(turn(150.0))
    assert unsure.settled_gender(turn(150.0)) is None


def test_feature_extraction_resumes_where_it_stopped(tmp_path, monkeypatch):
    """The training cache is saved every few clips; a run stopped half way picks up there and ends with what
    one uninterrupted run writes."""
    from paralinguistics import dataset

    names = ["hello-world.wav", "agent-newlocation.wav", "vm-goodbye.wav", "auth-thankyou.wav", "agent-pass.wav"]
    with open(tmp_path / "m.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "dataset", "task", "label", "speaker", "gender", "age"])
        for n in names:
            w.writerow([need(ASTERISK / n).name, "asterisk", "emotion", "neutral", "allison", "F", ""])
    whisper = dataset.load_whisper()

    class Stops:  # the encoder, until the fourth clip
        def __init__(self):
            self.calls = 0

        def __getattr__(self, name):
            return getattr(whisper, name)

    stops = Stops()
    import asr.encoder

    real_encode = asr.encoder.encode

    def encode(model, audio, **kw):
        if model is stops:
            stops.calls += 1
            if stops.calls == 4:
                raise KeyboardInterrupt
            model = whisper
        return real_encode(model, audio, **kw)

    monkeypatch.setattr(asr.encoder, "encode", encode)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "resumed"))
    with pytest.raises(KeyboardInterrupt):
        dataset.extract(tmp_path / "m.csv", ASTERISK, "clean", stops, save_every=2)
    assert len(np.load(dataset.cache_path(tmp_path / "m.csv", "clean"))["paths"]) == 2
    resumed = dataset.extract(tmp_path / "m.csv", ASTERISK, "clean", whisper, save_every=2)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "once"))
    once = dataset.extract(tmp_path / "m.csv", ASTERISK, "clean", whisper)
    assert list(resumed["paths"]) == list(once["paths"]) == names and bool(resumed["complete"])
    for key in ("pooled", "prosody", "frames", "offsets"):
        assert np.allclose(resumed[key], once[key], atol=1e-3), key
