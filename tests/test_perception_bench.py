"""The perception suite: its metric code on hand-made cases, the style changes on real recordings, and
the whole suite on a quick slice."""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pytest

from benchmarks import perception, style

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


def test_confusion_counts_and_recall():
    rows = [("sad", "sad"), ("sad", "neutral"), ("neutral", "neutral"), ("neutral", "neutral"), ("angry", "unknown")]
    c = perception.confusion(rows)
    assert c["labels"] == ["angry", "neutral", "sad"]
    assert c["predicted_labels"] == ["angry", "neutral", "sad", "unknown"]
    assert c["confusion"] == [[0, 0, 0, 1], [0, 2, 0, 0], [0, 1, 1, 0]]
    assert c["recall"] == {"angry": 0.0, "neutral": 1.0, "sad": 0.5}
    assert c["balanced_accuracy"] == 0.5


def test_style_verdicts():
    usual = {"vs_usual": "usual"}
    assert style.verdict("unchanged", {"relative": {"rate_syl_s": usual, "pitch_st": usual}, "whispering": False}) == (
        True, "usual")
    ok, said = style.verdict("unchanged", {"relative": {"rate_syl_s": {"vs_usual": "faster"}}, "whispering": False})
    assert not ok and said == "rate_syl_s:faster"
    assert style.verdict("slower", {"relative": {"rate_syl_s": {"vs_usual": "slower"}}})[0]
    assert not style.verdict("slower", {"relative": None})[0]  # no baseline yet is not a right answer
    assert style.verdict("whispered", {"whispering": True})[0]


def test_whispered_keeps_the_envelope_and_drops_the_voicing():
    from paralinguistics.features import signal_features

    if not LIBRIVOX.exists():
        pytest.skip("pocketsphinx-testdata is not installed")
    import soundfile as sf

    speech, _ = sf.read(sorted(LIBRIVOX.glob("*.wav"))[0], dtype="float32")
    w = style.whispered(speech)
    assert len(w) == len(speech) and np.isfinite(w).all()
    spoken, hushed = signal_features(speech)[0], signal_features(w)[0]
    assert spoken.steady_voiced_ratio > 0.5 and hushed.steady_voiced_ratio < 0.1
    assert abs(hushed.speech_s - spoken.speech_s) < 0.25 * spoken.speech_s  # the words are still there


@pytest.mark.slow
def test_perception_suite_quick(monkeypatch):
    if not LIBRIVOX.exists() or not shutil.which("sox"):
        pytest.skip("needs pocketsphinx-testdata and sox")
    monkeypatch.setenv("WARMLINE_NO_PLOTS", "1")
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    perception.add_arguments(p)
    r = perception.run(p.parse_args(["--quick"]))
    assert r["words"]["librivox_read_speech"]["wer_mean"] < 0.3
    acc = r["style"]["accuracy_by_change"]
    assert set(acc) == set(style.CHANGES)
    assert acc["louder"] == acc["quieter"] == 1.0  # 10 dB either way is unmistakable
    assert acc["whispered"] >= 0.75
    assert r["timing_ms"]["analysis_with_shared_states"]["n"] > 0
    false_events = r["events_in_ordinary_speech"]["librivox_read_speech"]
    assert false_events["clips"] == 2 and 0.0 <= false_events["with_an_event"] <= 1.0
    assert "Vocal events heard in ordinary speech" in r["report_markdown"]
    assert "## Speaking style" in r["report_markdown"] and "## Words (ASR)" in r["report_markdown"]
    if perception.SHARED.exists():
        assert r["words"]["emotional_speech"] and r["voice_cross_validated"]["emotion"]["clean"]["ravdess"]
        se = r["session_timing_ms"]
        assert se["sessions"] == 3 and se["analysis_in_session_with_shared_states"]["n"] > 0
        assert 0.0 <= se["turns_with_gender_settled"] < 1.0  # a session's first turns always read the gender
        assert "In a session" in r["report_markdown"]


def test_perception_scores_a_manifest(paralinguistics_data, tmp_path):
    """Live scoring of a small labelled manifest: every block has a confusion matrix over its classes."""
    import csv

    rows = list(csv.DictReader(open(paralinguistics_data / "manifest.csv")))
    pick = [r for r in rows if r["dataset"] == "ravdess"][:6] + [r for r in rows if r["task"] == "vocal_event"][:4]
    manifest = tmp_path / "m.csv"
    with open(manifest, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(pick)
    from paralinguistics.analyser import VoiceAnalyser

    out = perception.score_manifest(VoiceAnalyser(device="cpu"), str(manifest), str(paralinguistics_data), "clean")
    assert out["clips"] == 10
    assert {"emotion/ravdess", "gender", "events"} <= set(out["blocks"])
    for block in out["blocks"].values():
        assert np.array(block["confusion"]).sum() == block["n"]
        assert 0.0 <= block["balanced_accuracy"] <= 1.0
