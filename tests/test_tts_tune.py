"""The tone tuner's pure logic: disjoint sentence sets, bounds, levels, scoring, writing profiles.toml."""
import pytest

from benchmarks import tts as bench
from benchmarks import tts_tune as tune
from tts.profiles import DEFAULT_TABLE, ProfileTable


def test_tuning_sentences_never_appear_in_the_bench():
    assert tune.sentences_disjoint(tune.TUNING_SENTENCES, bench.SENTENCES + bench.SHORT_REPLIES + bench.LONG_REPLIES)
    assert tune.HELD_OUT_SENTENCES == bench.SENTENCES
    assert len(set(tune.TUNING_SENTENCES)) == len(tune.TUNING_SENTENCES) >= 8
    # the check ignores case and punctuation
    assert not tune.sentences_disjoint(["We can take this ONE step at a time!"], bench.SENTENCES)


def test_bounds_clamp_and_round():
    assert tune.clamp("pitch_semitones", 9.0) == 4.0
    assert tune.clamp("pitch_semitones", -4.6) == -4.0
    assert tune.clamp("rate", 0.5) == 0.75
    assert tune.clamp("energy_db", 12) == 4.0
    assert tune.clamp("pitch_range", 0.1) == 0.5
    assert tune.clamp("variation", 3.0) == 1.6
    assert tune.tidy("rate", 0.934) == 0.93
    assert tune.tidy("pitch_semitones", 1.1) == 1.0


def test_levels_lie_inside_the_bounds_and_include_neutral():
    for levels in (tune.LEVELS, tune.QUICK_LEVELS):
        assert set(levels) == set(tune.BOUNDS) == set(tune.KNOBS)
        for knob, values in levels.items():
            lo, hi = tune.BOUNDS[knob]
            assert all(lo <= v <= hi for v in values), knob
            neutral = 0 if knob in ("pitch_semitones", "energy_db") else 1.0
            assert neutral in values, knob


def test_fine_levels_halve_the_steps_around_the_best():
    assert tune.fine_levels("pitch_semitones", 2.0, (-4, -2, 0, 2, 4)) == [1.0, 3.0]
    assert tune.fine_levels("pitch_semitones", 4.0, (-4, -2, 0, 2, 4)) == [3.0]  # at the bound: one side only
    assert tune.fine_levels("rate", 0.93, (0.75, 1.0, 1.25)) == [0.84, 0.96]  # a start value off the grid


def test_score_is_label_share_then_target_probability():
    heard = [("sad", {"sad": 0.6, "neutral": 0.3}), ("neutral", {"sad": 0.2, "neutral": 0.7})]
    assert tune.score(heard, {"sad", "calm"}) == pytest.approx((0.5, 0.4))
    assert tune.score([], {"sad"}) == (0.0, 0.0)
    assert tune.score(heard, {"sad"}) > tune.score(heard, {"happy"})


def test_apply_to_toml_changes_only_the_named_values(tmp_path):
    text = DEFAULT_TABLE.read_text()
    out = tune.apply_to_toml(text, {"serious": {"rate": 0.8, "pitch_semitones": -3.0, "energy_db": 2.5}})
    assert out.count("\n") == text.count("\n")
    changed = [(a, b) for a, b in zip(text.splitlines(), out.splitlines()) if a != b]
    assert len(changed) <= 3 and all(a.split("=")[0] == b.split("=")[0] for a, b in changed)
    path = tmp_path / "profiles.toml"
    path.write_text(out)
    new, old = ProfileTable.load(path).profiles, ProfileTable.load(DEFAULT_TABLE).profiles
    assert (new["serious"].rate, new["serious"].pitch_semitones, new["serious"].energy_db) == (0.8, -3.0, 2.5)
    assert new["serious"].pitch_range == old["serious"].pitch_range
    assert {k: v for k, v in new.items() if k != "serious"} == {k: v for k, v in old.items() if k != "serious"}


def test_keep_direction_keeps_each_knob_on_its_side_of_neutral():
    levels = tune.LEVELS["pitch_semitones"]
    assert tune.same_side("pitch_semitones", -2.0, levels) == (-4, -3, -2, -1, 0)
    assert tune.same_side("pitch_semitones", 0.0, levels) == levels  # at neutral: either way
    assert tune.same_side("rate", 1.12, tune.LEVELS["rate"]) == (1.0, 1.08, 1.16, 1.25)
    assert tune.same_side("pitch_range", 0.75, tune.LEVELS["pitch_range"]) == (0.5, 0.7, 0.85, 1.0)
