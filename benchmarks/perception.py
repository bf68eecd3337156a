"""`warmline bench perception`: how long the voice analyser takes per turn, and how accurate its heads are.

    python -m benchmarks.perception [--quick] [--json OUT] [--manifest held_out.csv --root DIR]

Timing: per-turn analysis on real clips (LibriVox from pocketsphinx-testdata, plus labelled clips when
../shared/data/paralinguistics is present), both when the ASR's Whisper base states are handed over
(what the server does: prosody + heads only) and when the analyser runs its own encoder pass.
Accuracy: the shipped speaker-independent cross-validation figures (paralinguistics/models/metrics.json),
and, given --manifest, live balanced accuracy of the shipped heads on that (held-out) manifest.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "paralinguistics"
MODELS = Path(__file__).resolve().parents[1] / "paralinguistics" / "models"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="few clips (under two minutes)")
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--report", default=None, help="write a Markdown report here")
    p.add_argument("--manifest", default=None, help="held-out manifest to score live (path,label,gender,...)")
    p.add_argument("--root", default=None, help="folder the manifest's paths are relative to")
    p.add_argument("--condition", default="clean", choices=["clean", "tel", "noise10"])
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])


def _pct(xs: list[float]) -> dict:
    a = np.array(xs)
    return {"p50": round(float(np.percentile(a, 50)), 2), "p95": round(float(np.percentile(a, 95)), 2),
            "mean": round(float(a.mean()), 2), "n": len(xs)}


def _clips(quick: bool) -> list[Path]:
    clips = sorted(LIBRIVOX.glob("*.wav"))
    manifest = SHARED / "manifest.csv"
    if manifest.exists():
        with open(manifest) as f:
            rows = list(csv.DictReader(f))
        step = max(1, len(rows) // (15 if quick else 120))
        clips += [SHARED / r["path"] for r in rows[::step]]
    return clips


def time_turns(analyser, clips: list[Path]) -> dict:
    from asr.encoder import encode
    from paralinguistics.dataset import load_audio

    shared_ms, own_ms, encoder_ms, heads_ms, prosody_ms, seconds = [], [], [], [], [], []
    for path in clips:
        audio = load_audio(path)
        t = time.perf_counter()
        enc = encode(analyser._encoder(), audio)
        encoder_ms.append((time.perf_counter() - t) * 1000)
        p = analyser.analyse(audio, encoder_states=enc.states[: enc.audio_frames])
        if p.unknown:
            continue
        shared_ms.append(p.timings_ms["total"])
        heads_ms.append(p.timings_ms["heads"])
        prosody_ms.append(p.timings_ms["prosody"])
        own_ms.append(analyser.analyse(audio).timings_ms["total"])
        seconds.append(len(audio) / 16000)
    return {"turn_seconds": _pct(seconds),
            "analysis_ms_with_shared_states": _pct(shared_ms),
            "analysis_ms_with_own_encoder_pass": _pct(own_ms),
            "whisper_base_encoder_ms": _pct(encoder_ms),
            "heads_ms": _pct(heads_ms), "prosody_ms": _pct(prosody_ms)}


def score_manifest(analyser, manifest: str, root: str, condition: str, limit: int = 0) -> dict:
    from paralinguistics import labels as L
    from paralinguistics.augment import CONDITIONS
    from paralinguistics.dataset import load_audio, read_manifest

    clips = read_manifest(manifest)[: limit or None]
    rng = np.random.default_rng(0)
    truth: dict[str, list] = {"emotion": [], "gender": [], "events": []}
    for c in clips:
        p = analyser.analyse(CONDITIONS[condition](load_audio(Path(root) / c.path), rng))
        if p.unknown:
            continue
        if c.task == "emotion" and c.label in L.EMOTIONS:
            dist = p.emotion.distribution
            truth["emotion"].append((c.dataset, c.label, dist))
        if c.gender[:1] in ("F", "M"):
            truth["gender"].append((c.gender[:1], p.gender))
        if c.task == "vocal_event":
            truth["events"].append((c.label, [e.label for e in p.events]))
    out: dict = {}
    for corpus in sorted({d for d, _, _ in truth["emotion"]}):
        rows = [(lab, dist) for d, lab, dist in truth["emotion"] if d == corpus]
        present = sorted({lab for lab, _ in rows})
        pred = [max(present, key=lambda k: dist[k]) for _, dist in rows]
        out[f"emotion_{corpus}_balanced_accuracy"] = _bacc([lab for lab, _ in rows], pred)
    if truth["gender"]:
        y = ["female" if g == "F" else "male" for g, _ in truth["gender"]]
        out["gender_balanced_accuracy"] = _bacc(y, [p.label for _, p in truth["gender"]])
        out["gender_unknown_rate"] = round(float(np.mean([p.label == "unknown" for _, p in truth["gender"]])), 4)
    if truth["events"]:
        out["events_recall_of_true_event"] = round(float(np.mean([lab in ev for lab, ev in truth["events"]])), 4)
    out["clips"] = len(clips)
    out["condition"] = condition
    return out


def _bacc(y: list[str], pred: list[str]) -> float:
    y, pred = np.array(y), np.array(pred)
    return round(float(np.mean([np.mean(pred[y == c] == c) for c in np.unique(y)])), 4)


def cv_figures() -> dict:
    path = MODELS / "metrics.json"
    if not path.exists():
        return {}
    m = json.loads(path.read_text())
    out = {}
    for task, t in m["tasks"].items():
        for cond in ("clean", "tel", "noise10"):
            for block, b in t.get(cond, {}).items():
                if "balanced_accuracy" in b:
                    out[f"{task}.{block}.{cond}.balanced_accuracy"] = b["balanced_accuracy"]
    return out


def run(args) -> dict:
    from paralinguistics.analyser import VoiceAnalyser

    analyser = VoiceAnalyser(device=args.device)
    analyser.analyse(np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1)  # warm-up
    result = {"suite": "perception", "quick": bool(args.quick), "timing": time_turns(analyser, _clips(args.quick)),
              "accuracy_speaker_independent_cv": cv_figures()}
    if args.manifest:
        result["accuracy_on_manifest"] = score_manifest(analyser, args.manifest, args.root or ".", args.condition,
                                                        limit=30 if args.quick else 0)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    if args.report:
        Path(args.report).write_text(report(result))
    return result


def report(r: dict) -> str:
    t = r["timing"]
    lines = ["# Perception benchmark", "", f"Turns: {t['turn_seconds']['n']} clips, median "
             f"{t['turn_seconds']['p50']} s.", "", "| per turn | p50 ms | p95 ms |", "|---|---|---|"]
    for k in ("analysis_ms_with_shared_states", "heads_ms", "prosody_ms", "whisper_base_encoder_ms",
              "analysis_ms_with_own_encoder_pass"):
        lines.append(f"| {k} | {t[k]['p50']} | {t[k]['p95']} |")
    lines += ["", "| speaker-independent CV figure | balanced accuracy |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in r["accuracy_speaker_independent_cv"].items()]
    if "accuracy_on_manifest" in r:
        lines += ["", "On the given manifest:", "```", json.dumps(r["accuracy_on_manifest"], indent=1), "```"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="warmline bench perception", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    r = run(p.parse_args(argv))
    json.dump(r, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
