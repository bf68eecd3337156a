"""`warmline bench perception`: EchoMind's understanding level: does Warmline hear what was said and how?

    warmline bench perception [--quick] [--json OUT] [--manifest held_out.csv --root DIR]

Four parts, all on real recordings:
- words: word error rate of the server's recogniser (Whisper base, trimmed window) on read speech
  (LibriVox, pocketsphinx-testdata) and on emotional speech with known scripts (RAVDESS statements,
  TESS "Say the word ...", from ../shared/data/paralinguistics), per emotion;
- voice: the heads' speaker-independent cross-validated balanced accuracy with per-class recall and
  confusion matrices (paralinguistics/models/metrics.json, written by the training script), and, given
  --manifest, the shipped heads scored live on that (held-out) manifest the same way;
- style: speaking rate, loudness, pitch and whispering on controlled changes of real recordings
  (benchmarks/style.py);
- time: per-turn analysis on this CPU with the recogniser's encoder states handed over (what the server
  does) and with the analyser's own encoder pass, per clip and turn after turn of one speaker with the
  conversation's baseline (where a settled gender is no longer read).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from benchmarks.report import percentiles, plot_path, table

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "paralinguistics"
MODELS = Path(__file__).resolve().parents[1] / "paralinguistics" / "models"
CONDITIONS = ("clean", "tel", "noise10")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--manifest", default=None, help="held-out manifest to score live (path,dataset,task,label,gender,...)")
    p.add_argument("--root", default=None, help="folder the manifest's paths are relative to")
    p.add_argument("--condition", default="clean", choices=list(CONDITIONS), help="for --manifest: clean, "
                   "telephone (8 kHz mu-law) or 10 dB noise")
    p.add_argument("--per-emotion", type=int, default=None, help="emotional clips per emotion and corpus for the "
                   "WER (default 12; --quick 2)")
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])


# --- words -------------------------------------------------------------------------------------------

def emotional_scripts(root: Path, per_emotion: int) -> list[dict]:
    """RAVDESS and TESS clips whose words the file name gives, `per_emotion` per (corpus, emotion),
    spread over speakers."""
    from benchmarks.empathy import _ravdess, _tess

    manifest = root / "manifest.csv"
    if not manifest.exists():
        return []
    groups: dict[tuple, list[dict]] = defaultdict(list)
    with open(manifest, newline="") as f:
        for row in csv.DictReader(f):
            parsed = _ravdess(Path(row["path"]).stem) or _tess(Path(row["path"]).stem)
            if parsed and row.get("task") == "emotion":
                groups[(row["dataset"], row["label"])].append({**row, "script": parsed[0]})
    picked = []
    for key in sorted(groups):
        # a fixed shuffle (str hash() changes from run to run), so every run scores the same clips
        rows = sorted(groups[key], key=lambda r: hashlib.sha1(r["path"].encode()).hexdigest())
        by_speaker: dict[str, list[dict]] = defaultdict(list)
        for r in rows:
            by_speaker[r["speaker"]].append(r)
        rounds = [r for i in range(max(map(len, by_speaker.values()))) for s in sorted(by_speaker)
                  for r in by_speaker[s][i:i + 1]]
        picked += rounds[:per_emotion]
    return picked


def word_errors(quick: bool, per_emotion: int, progress=None) -> dict:
    from asr.whisper import WhisperRecognizer
    from benchmarks.asr import librivox
    from benchmarks.metrics import wer
    from paralinguistics.dataset import load_audio
    from server.models import resolve

    recognizer = WhisperRecognizer(resolve("whisper-base"))
    out: dict = {"model": "whisper-base (trimmed window, beam 1)"}
    read = librivox()[: 2 if quick else None]
    if read:
        rows = []
        for c in read:
            rows.append(wer(c.text, recognizer.transcribe(c.audio).text))
            progress and progress.update(1)
        out["librivox_read_speech"] = {"clips": len(rows), "wer_mean": round(float(np.mean(rows)), 4)}
    emotional = emotional_scripts(SHARED, per_emotion)
    if emotional:
        per: dict[tuple, list[float]] = defaultdict(list)
        for r in emotional:
            text = recognizer.transcribe(load_audio(SHARED / r["path"])).text
            per[(r["dataset"], r["label"])].append(wer(r["script"], text))
            progress and progress.update(1)
        out["emotional_speech"] = {f"{d}/{e}": {"clips": len(v), "wer_mean": round(float(np.mean(v)), 4)}
                                   for (d, e), v in sorted(per.items())}
        for d in sorted({d for d, _ in per}):
            vals = [x for (dd, _), v in per.items() if dd == d for x in v]
            out[f"{d}_wer_mean"] = round(float(np.mean(vals)), 4)
    else:
        out["emotional_speech_skipped"] = f"no labelled clips at {SHARED}"
    return out


# --- voice: the heads ---------------------------------------------------------------------------------

def cv_figures() -> dict:
    """Every cross-validated figure of the shipped heads: {task: {condition: {block: {balanced_accuracy,
    recall, confusion, labels, n}}}}."""
    path = MODELS / "metrics.json"
    if not path.exists():
        return {}
    tasks = json.loads(path.read_text())["tasks"]
    return {task: {cond: t[cond] for cond in CONDITIONS if cond in t} for task, t in tasks.items()}


def score_manifest(analyser, manifest: str, root: str, condition: str, limit: int = 0, progress=None) -> dict:
    """The shipped heads on a labelled manifest, scored like the cross-validation: balanced accuracy,
    per-class recall and a confusion matrix per task and corpus (emotion restricted to the corpus's classes)."""
    from paralinguistics import labels as L
    from paralinguistics.augment import CONDITIONS as AUGMENT
    from paralinguistics.dataset import load_audio, read_manifest

    clips = read_manifest(manifest)[: limit or None]
    rng = np.random.default_rng(0)
    pairs: dict[str, list[tuple]] = defaultdict(list)  # block -> (truth, prediction or emotion distribution)
    unknown = Counter()
    for c in clips:
        p = analyser.analyse(AUGMENT[condition](load_audio(Path(root) / c.path), rng))
        progress and progress.update(1)
        if p.unknown:
            unknown["clip"] += 1
            continue
        if c.task == "emotion" and c.label in L.EMOTIONS:
            pairs[f"emotion/{c.dataset}"].append((c.label, p.emotion.distribution))
        if c.gender[:1] in ("F", "M"):
            pairs["gender"].append(("female" if c.gender[:1] == "F" else "male", p.gender.label))
        if c.age is not None:
            pairs["age"].append((L.age_group(c.age), p.age_group.label))
        if c.task == "vocal_event":
            top = p.events[0].label if p.events else L.NO_EVENT
            pairs["events"].append((c.label, top))
    out: dict = {"clips": len(clips), "condition": condition, "unknown_clips": unknown["clip"], "blocks": {}}
    for block, rows in pairs.items():
        if block.startswith("emotion/"):
            present = sorted({t for t, _ in rows})
            rows = [(t, max(present, key=lambda k: dist.get(k, 0.0))) for t, dist in rows]
        out["blocks"][block] = confusion(rows)
    return out


def confusion(rows: list[tuple[str, str]]) -> dict:
    """Balanced accuracy, per-class recall and the confusion matrix (rows: truth, columns: prediction;
    predictions outside the true classes, such as "unknown", get their own columns)."""
    labels = sorted({t for t, _ in rows})
    extra = sorted({p for _, p in rows} - set(labels))
    cols = labels + extra
    m = np.zeros((len(labels), len(cols)), int)
    for t, p in rows:
        m[labels.index(t), cols.index(p)] += 1
    recall = {lab: round(float(m[i, i] / max(m[i].sum(), 1)), 3) for i, lab in enumerate(labels)}
    return {"balanced_accuracy": round(float(np.mean(list(recall.values()))), 4), "n": len(rows),
            "recall": recall, "labels": labels, "predicted_labels": cols, "confusion": m.tolist()}


# --- time ---------------------------------------------------------------------------------------------

def timing_clips(quick: bool) -> list[Path]:
    clips = sorted(LIBRIVOX.glob("*.wav"))
    manifest = SHARED / "manifest.csv"
    if manifest.exists():
        with open(manifest) as f:
            rows = list(csv.DictReader(f))
        step = max(1, len(rows) // (15 if quick else 120))
        clips += [SHARED / r["path"] for r in rows[::step]]
    return clips


def time_turns(analyser, clips: list[Path], progress=None) -> dict:
    from asr.encoder import encode
    from paralinguistics.dataset import load_audio

    ms: dict[str, list[float]] = defaultdict(list)
    for path in clips:
        audio = load_audio(path)
        t = time.perf_counter()
        enc = encode(analyser._encoder(), audio)
        ms["whisper_base_encoder"].append((time.perf_counter() - t) * 1000)
        p = analyser.analyse(audio, encoder_states=enc.hidden[:, : enc.audio_frames])
        progress and progress.update(1)
        if p.unknown:
            continue
        ms["analysis_with_shared_states"].append(p.timings_ms["total"])
        ms["heads"].append(p.timings_ms["heads"])
        ms["prosody"].append(p.timings_ms["prosody"])
        if "speaker" in p.timings_ms:
            ms["speaker_embedding"].append(p.timings_ms["speaker"])
        ms["analysis_with_own_encoder_pass"].append(analyser.analyse(audio).timings_ms["total"])
        ms["turn_seconds"].append(len(audio) / 16000)
    return {k: percentiles(v, digits=2) for k, v in ms.items()}


def session_clips(quick: bool) -> dict[str, list[Path]]:
    """Conversations to time: each speech-corpus speaker's clips in manifest order, a few per speaker."""
    manifest = SHARED / "manifest.csv"
    if not manifest.exists():
        return {}
    by_speaker: dict[str, list[Path]] = defaultdict(list)
    with open(manifest) as f:
        for r in csv.DictReader(f):
            if r.get("task") == "emotion":
                by_speaker[r["speaker"]].append(SHARED / r["path"])
    n = 3 if quick else 10
    chosen = sorted(by_speaker)[:: max(1, len(by_speaker) // n)][:n]
    return {s: by_speaker[s][:: max(1, len(by_speaker[s]) // (5 if quick else 10))][: 5 if quick else 10]
            for s in chosen}


def time_sessions(analyser, sessions: dict[str, list[Path]], progress=None) -> dict:
    """Per-turn analysis with the recogniser's states, turn after turn of one speaker with the conversation's
    baseline, as a session runs it: once a voice's gender is settled its turns skip the gender heads and
    the speaker embedding (`paralinguistics.baseline`)."""
    from asr.encoder import encode
    from paralinguistics.dataset import load_audio

    ms: dict[str, list[float]] = defaultdict(list)
    settled = []
    for paths in sessions.values():
        baseline = analyser.new_baseline()
        for path in paths:
            audio = load_audio(path)
            enc = encode(analyser._encoder(), audio)
            p = analyser.analyse(audio, encoder_states=enc.hidden[:, : enc.audio_frames], baseline=baseline)
            progress and progress.update(1)
            if p.unknown:
                continue
            ms["analysis_in_session_with_shared_states"].append(p.timings_ms["total"])
            settled.append(p.gender_settled)
    out = {k: percentiles(v, digits=2) for k, v in ms.items()}
    out["turns_with_gender_settled"] = round(float(np.mean(settled)), 3) if settled else None
    out["sessions"] = len(sessions)
    return out


def ordinary_speech(quick: bool) -> dict[str, list[Path]]:
    """Speech with no vocal event in it: the LibriVox readers (never trained on) and the Asterisk prompts
    that training leaves out (the same voice's other prompts teach the events head `none`)."""
    from paralinguistics.ordinary import held_out_prompts

    return {"librivox_read_speech": sorted(LIBRIVOX.glob("*.wav"))[: 2 if quick else None],
            "asterisk_prompts_held_out": held_out_prompts()[: 8 if quick else None]}


def events_in_ordinary_speech(analyser, sets: dict[str, list[Path]], progress=None) -> dict:
    """Vocal events the analyser reports on `ordinary_speech`: every one is a false alarm, and a false
    "crying" feeds the dialogue and the crisis layer."""
    from paralinguistics.dataset import load_audio

    out = {}
    for name, paths in sets.items():
        heard, counts = [], Counter()
        for path in paths:
            p = analyser.analyse(load_audio(path))
            progress and progress.update(1)
            if p.unknown:
                continue
            labels = [e.label for e in p.events]
            heard.append(bool(labels))
            counts.update(labels)
        out[name] = {"clips": len(heard), "with_an_event": round(float(np.mean(heard)), 3) if heard else None,
                     "events": dict(counts.most_common())}
    return out


# --- the suite ----------------------------------------------------------------------------------------

def run(args) -> dict:
    from tqdm import tqdm

    from benchmarks import style
    from paralinguistics.analyser import VoiceAnalyser

    quick = bool(getattr(args, "quick", False))
    per_emotion = args.per_emotion or (2 if quick else 12)
    speakers = style.real_speakers(4 if quick else 8)
    timing = timing_clips(quick)
    sessions = session_clips(quick)
    n_words = (2 if quick else len(list(LIBRIVOX.glob("*.wav")))) + len(emotional_scripts(SHARED, per_emotion))
    manifest_clips = 0
    if args.manifest:
        from paralinguistics.dataset import read_manifest

        manifest_clips = min(len(read_manifest(args.manifest)), 30 if quick else 10**9)
    plain = ordinary_speech(quick)
    bar = tqdm(total=n_words + sum(len(s.clips) for s in speakers) + len(timing) + manifest_clips
               + sum(map(len, sessions.values()))
               + sum(map(len, plain.values())),
               desc="perception", unit="clip")
    analyser = VoiceAnalyser(device=args.device)
    analyser.analyse(np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1)  # warm-up
    result = {"slice": "quick: a few clips per part" if quick else "full",
              "words": word_errors(quick, per_emotion, bar),
              "style": style.evaluate(speakers, progress=bar),
              "voice_cross_validated": cv_figures(),
              "timing_ms": time_turns(analyser, timing, bar),
              "session_timing_ms": time_sessions(analyser, sessions, bar),
              "events_in_ordinary_speech": events_in_ordinary_speech(analyser, plain, bar)}
    if args.manifest:
        result["voice_on_manifest"] = score_manifest(analyser, args.manifest, args.root or ".", args.condition,
                                                     limit=30 if quick else 0, progress=bar)
    bar.close()
    result["report_markdown"] = report(result)
    return result


def report(r: dict) -> str:
    w, st, t = r["words"], r["style"], r["timing_ms"]
    md = ["# Perception: what was said and how", "", f"Slice: {r['slice']}.", "", "## Words (ASR)", "",
          f"Recogniser: {w['model']}."]
    rows = [["LibriVox read speech", w["librivox_read_speech"]["clips"], w["librivox_read_speech"]["wer_mean"]]] \
        if "librivox_read_speech" in w else []
    rows += [[f"emotional speech: {k}", v["clips"], v["wer_mean"]] for k, v in w.get("emotional_speech", {}).items()]
    md += ["", table(["set", "clips", "WER"], rows)]
    if "ravdess_wer_mean" in w:
        md += ["", "RAVDESS clips are cut at 2.39 s in the shared folder, which can clip the statement's last word; "
               "read their WER as an upper bound."]
    md += ["", "## Voice: heads, speaker-independent cross-validation", "",
           "Balanced accuracy (clean / telephone 8 kHz mu-law / 10 dB noise); per-class recall on clean speech. "
           "Confusion matrices: `paralinguistics/models/confusion_*.png`.", ""]
    cv = r["voice_cross_validated"]
    rows = []
    for task, conds in cv.items():
        for block, b in conds.get("clean", {}).items():
            if "balanced_accuracy" not in b:
                continue
            accs = [conds.get(c, {}).get(block, {}).get("balanced_accuracy") for c in CONDITIONS]
            recall = ", ".join(f"{k} {v:.2f}" for k, v in b.get("recall", {}).items())
            rows.append([f"{task} / {block}", b.get("n"), *accs, recall])
    md += [table(["head / test set", "clips", "clean", "telephone", "noise 10 dB", "recall per class (clean)"], rows)
           if rows else "No metrics.json: train the heads first (`python -m paralinguistics.train`)."]
    if "voice_on_manifest" in r:
        vm = r["voice_on_manifest"]
        md += ["", f"### The shipped heads on the given manifest ({vm['clips']} clips, {vm['condition']})", ""]
        md += [table(["block", "clips", "balanced accuracy", "recall per class"],
                     [[k, b["n"], b["balanced_accuracy"], ", ".join(f"{c} {x:.2f}" for c, x in b["recall"].items())]
                      for k, b in vm["blocks"].items()])]
        for k, b in vm["blocks"].items():
            md += ["", f"Confusion, {k} (rows truth, columns prediction):", "",
                   table(["", *b["predicted_labels"]], [[lab, *row] for lab, row in zip(b["labels"], b["confusion"])])]
    ev = r.get("events_in_ordinary_speech", {})
    md += ["", "### Vocal events heard in ordinary speech (false alarms)", "",
           "Read speech and phone prompts with no vocal event in them; every reported event is false.", "",
           table(["set", "clips", "share with an event", "events reported"],
                 [[k, v["clips"], v["with_an_event"], ", ".join(f"{e} {n}" for e, n in v["events"].items()) or "none"]
                  for k, v in ev.items()])]
    md += ["", "## Speaking style on controlled changes of real recordings", ""]
    if "skipped" in st:
        md += [f"skipped: {st['skipped']}"]
    else:
        md += [f"Speakers: {', '.join(st['speakers'])} ({st['clips']} clips); each clip changed one way and read "
               "against a baseline of the same speaker's other clips (see `benchmarks/style.py`). Overall "
               f"accuracy {st['accuracy']}.", "", table(["change", "accuracy"], [[k, v] for k, v in
                                                                                st["accuracy_by_change"].items()])]
    md += ["", "## Time per turn (this CPU)", "",
           table(["", "p50 ms", "p95 ms"], [[k, v["p50"], v["p95"]] for k, v in t.items() if k != "turn_seconds"]),
           "", f"Turns: {t.get('turn_seconds', {}).get('n')} clips, median {t.get('turn_seconds', {}).get('p50')} s."]
    se = r.get("session_timing_ms", {})
    if se.get("analysis_in_session_with_shared_states"):
        a = se["analysis_in_session_with_shared_states"]
        md += ["", f"In a session ({se['sessions']} speakers, {a['n']} turns, each speaker's turns read with the "
               f"conversation's baseline): p50 {a['p50']} ms, p95 {a['p95']} ms per turn; the gender was settled "
               f"(gender heads and speaker embedding skipped) on {se['turns_with_gender_settled']:.0%} of the turns."]
    path = plot_path("perception")
    if path:
        _plot(r, path)
        md += ["", f"![perception]({path.name})"]
    return "\n".join(md) + "\n"


def _plot(r: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    emo = r["words"].get("emotional_speech", {})
    if emo:
        axes[0].barh(list(emo), [v["wer_mean"] for v in emo.values()], color="#4a7")
        axes[0].set_xlabel("word error rate")
        axes[0].set_title("ASR on emotional speech")
    else:
        axes[0].axis("off")
    acc = r["style"].get("accuracy_by_change", {})
    if acc:
        axes[1].bar(list(acc), list(acc.values()), color="#47a")
        axes[1].set_ylim(0, 1)
        axes[1].set_title("speaking style: accuracy per change")
        axes[1].tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    from server.cli import main as warmline

    return warmline(["bench", "perception", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    raise SystemExit(main())
