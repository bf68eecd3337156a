"""Every `warmline bench` suite end to end on its quick slice, through the command a user types: the JSON
result carries the environment and the suite's own figures, and the Markdown report is written beside it.
(The empathy, safety and perception suites have their own, deeper tests.)"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.cli import main as warmline

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _plots_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("WARMLINE_BENCH_DIR", str(tmp_path / "plots"))


def bench(tmp_path: Path, suite: str, *extra: str) -> dict:
    out = tmp_path / f"{suite}.json"
    assert warmline(["bench", suite, "--quick", "--json", str(out), *extra]) == 0
    result = json.loads(out.read_text())
    assert result["suite"] == suite and result["quick"] is True
    assert result["environment"]["cpus"] and "python" in result["environment"]
    report = out.with_suffix(".md").read_text()
    assert report.startswith("#") and "Quick slice" in report.split("\n\n")[1]
    return result


def test_latency_quick(tmp_path, ws_url):
    r = bench(tmp_path, "latency", "--url", ws_url)
    assert set(r["levels"]) == {"1", "2"}
    for level in r["levels"].values():
        assert level["turns"] == level["sessions"]  # the quick slice: one turn per caller
        assert level["failed_turns"] == 0
        assert level["first_audio_ms"]["n"] == level["turns"]
        # how each turn went: the speculative reply was ready at the endpoint or late, never unaccounted
        spec = level["speculation"]
        assert spec["ready_at_endpoint"] + spec["late"] == level["turns"]
        assert level["opener_prerendered"] == level["turns"] and level["model_clause_ms"]["n"] == level["turns"]
    talk = r["conversation"]  # two turns in one session
    assert [t["turn"] for t in talk["turns"]] == [1, 2] and talk["failed_turns"] == 0
    assert talk["later_turns_first_audio_ms"]["n"] == 1 and talk["turns"][1]["server"]["first_token_ms"] > 0
    assert r["barge_in"]["failed_runs"] == 0
    assert all(run["stop_ms"] is not None and run["stop_ms"] <= run["cancelled_ms"] for run in r["barge_in"]["runs"])
    assert (tmp_path / "plots" / "latency.png").exists()


def test_duplex_quick(tmp_path, ws_url):
    r = bench(tmp_path, "duplex", "--url", ws_url)
    assert r["scenarios"] == 5 and r["errors"] == 0  # one of each: pause, backchannel, interruption, turn, echo
    for kind in ("pause", "backchannel", "interruption", "turn_taking", "echo"):
        assert r[kind]["n"] == 1, kind
    assert r["interruption"]["stop_ms"]["n"] == 1  # (test_duplex.py checks what an interruption does)
    assert r["turn_taking"]["latency_ms"]["n"] == 1


def test_asr_quick(tmp_path):
    r = bench(tmp_path, "asr")
    model = r["sets"]["librivox"]["whisper-tiny.en"]
    assert model["trimmed"]["wer_mean"] < 0.35
    assert r["vad"]["frame_ms"]["n"] > 100


def test_tts_quick(tmp_path):
    r = bench(tmp_path, "tts", "--backends", "piper", "--no-wer")
    piper = r["backends"]["piper"]
    assert piper["status"] == "ok" and piper["sample_rate"] == 22050
    assert piper["short_reply"] and piper["short_reply_at_8000"]
    emoalign = piper["emoalign"]  # the voice analyser on the rendered tones, against neutral synthesis
    assert emoalign["status"] == "ok" and set(emoalign["per_emotion"]) == {"warm", "gentle", "calm", "reassuring",
                                                                         "cheerful", "serious"}
    assert all(0 <= r["target_prob_rendered"] <= 1 and "neutral" not in r["target"] for r in emoalign["per_emotion"].values())


def test_dialogue_quick(tmp_path):
    r = bench(tmp_path, "dialogue", "--models", "qwen2.5-0.5b")
    (run,) = r["runs"]
    assert run["model"] == "qwen2.5-0.5b" and run["cases"] == 19  # every 4th case
    assert run["crisis"]["cases"] == 6 and run["crisis"]["recall"] == 1.0
    assert run["crisis"]["reply_has_resource_rate"] == 1.0


def test_turn_end_quick(tmp_path):
    r = bench(tmp_path, "turn_end")
    assert set(r["parts"]) == {"a", "b"} and r["parts"]["b"]["role"] == "held out"
    for part in r["parts"].values():
        finished, early = part["finished_made_to_wait_long"], part["unfinished_answered_at_short_wait"]
        assert finished["of"] + early["of"] == part["lines"] and 0 <= finished["n"] <= finished["of"]
        assert sum(k["lines"] for k in part["by_kind"].values()) == part["lines"]
