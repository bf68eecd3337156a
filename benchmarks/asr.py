"""ASR benchmark: word error rate and time per clip, trimmed encoder window vs faster-whisper's 30 s pad.

    python -m benchmarks.asr [--quick] [--json OUT.json] [--report OUT.md] [--plot OUT.png]

Both ways decode greedily from the same loaded model, in alternation on each clip, so load on the
machine falls on both alike. Real speech: the LibriVox clips of Debian's pocketsphinx-testdata; with
--short-words also one-word phone prompts from asterisk-core-sounds-en-wav, where the decoder is
most prone to loop on a short window.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks import data
from benchmarks.metrics import wer
from benchmarks.report import percentiles

LIBRIVOX = str(data.LIBRIVOX)
ASTERISK = str(data.ASTERISK_SOUNDS)
SHORT_WORDS = ["hello", "goodbye", "for", "is", "with", "your", "minutes", "seconds", "sorry", "number",
               "digits/0", "digits/1", "digits/2", "digits/3", "digits/4", "digits/5", "digits/6", "digits/7",
               "digits/8", "digits/9"]


@dataclass
class Clip:
    id: str
    audio: np.ndarray  # 16 kHz float32 mono
    text: str


def librivox(folder: str = LIBRIVOX) -> list[Clip]:
    """The LibriVox clips with their transcripts ([] when the Debian package is absent)."""
    import soundfile as sf

    transcription = Path(folder) / "transcription"
    if not transcription.exists():
        return []
    clips = []
    for line in transcription.read_text().splitlines():
        m = re.match(r"\s*(.*?)\s*\((\S+)\)\s*$", line)
        if not m:
            continue
        text, clip_id = re.sub(r"</?s>", "", m.group(1)).strip(), m.group(2)
        audio, rate = sf.read(f"{folder}/{clip_id}.wav", dtype="float32")
        assert rate == 16000, f"{clip_id}: expected 16 kHz, got {rate}"
        clips.append(Clip(clip_id, audio, text))
    return clips


def short_words(folder: str = ASTERISK) -> list[Clip]:
    """One- or two-word phone prompts (8 kHz, resampled to 16 kHz); the file name says the words."""
    import soundfile as sf
    import soxr

    clips = []
    for name in SHORT_WORDS:
        path = f"{folder}/{name}.wav"
        if os.path.exists(path):
            audio, rate = sf.read(path, dtype="float32")
            clips.append(Clip(name, soxr.resample(audio, rate, 16000), Path(name).name))
    return clips


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="tiny.en only, one pass (under a minute)")
    parser.add_argument("--models", default="whisper-tiny.en,whisper-base",
                        help="comma-separated catalog names or CTranslate2 folders")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per clip and way (median kept)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compute-type", default="auto")
    parser.add_argument("--encoder", default="torch", choices=("torch", "ctranslate2"),
                        help="the trimmed way's encoder: torch (every layer, the server's) or CTranslate2's")
    parser.add_argument("--short-words", action="store_true", help="also time one-word prompts (loop guard)")
    parser.add_argument("--json", dest="json_out", help="write the results here")
    parser.add_argument("--report", help="write a Markdown report here")
    parser.add_argument("--plot", help="write a PNG of per-clip times here")


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _bench_model(name: str, clips: list[Clip], args) -> dict:
    from asr.whisper import WhisperRecognizer
    from server.models import resolve

    rec = WhisperRecognizer(resolve(name), threads=args.threads, compute_type=args.compute_type, encoder=args.encoder)

    def padded(audio: np.ndarray) -> str:
        segments, _ = rec.model.transcribe(audio, language="en", beam_size=1, without_timestamps=True,
                                           condition_on_previous_text=False, vad_filter=False)
        return " ".join(s.text.strip() for s in segments)

    rec.transcribe(clips[0].audio)  # warm-up: first calls allocate
    rows = []
    for clip in clips:
        times = {"trimmed": [], "pad30": []}
        for _ in range(args.repeats):
            result, t = _timed(lambda: rec.transcribe(clip.audio))
            times["trimmed"].append(t)
            text30, t = _timed(lambda: padded(clip.audio))
            times["pad30"].append(t)
        rows.append({"clip": clip.id, "audio_s": round(len(clip.audio) / 16000, 2), "reference": clip.text,
                     "trimmed_text": result.text, "pad30_text": text30,
                     "trimmed_wer": round(wer(clip.text, result.text), 4), "pad30_wer": round(wer(clip.text, text30), 4),
                     "trimmed_ms": round(1000 * float(np.median(times["trimmed"])), 1),
                     "pad30_ms": round(1000 * float(np.median(times["pad30"])), 1),
                     "trimmed_retried": "retry_s" in result.timings})
    out = {"model": name, "clips": rows}
    for way in ("trimmed", "pad30"):
        out[way] = {"wer_mean": round(float(np.mean([r[f"{way}_wer"] for r in rows])), 4),
                    "wer_max": round(float(np.max([r[f"{way}_wer"] for r in rows])), 4),
                    "time_ms": percentiles([r[f"{way}_ms"] for r in rows]),
                    "real_time_factor_p50": round(float(np.median([r[f"{way}_ms"] / 1000 / r["audio_s"] for r in rows])), 3)}
    out["speedup_p50"] = round(out["pad30"]["time_ms"]["p50"] / out["trimmed"]["time_ms"]["p50"], 2)
    out["retried_clips"] = sum(r["trimmed_retried"] for r in rows)
    return out


def _bench_vad(clips: list[Clip]) -> dict:
    """Silero cost per 32 ms frame, and where the segmenter puts the speech edges (1 s of silence before)."""
    from asr.vad import FRAME, FRAME_MS, SileroVAD, SpeechSegmenter

    vad, per_frame_ms, edges = SileroVAD(), [], []
    for clip in clips:
        signal = np.concatenate([np.zeros(16000, np.float32), clip.audio, np.zeros(24000, np.float32)])
        stream, seg, events = vad.stream(), SpeechSegmenter(), []
        for i in range(len(signal) // FRAME):
            t0 = time.perf_counter()
            p = stream.probability(signal[i * FRAME:(i + 1) * FRAME])
            per_frame_ms.append(1000 * (time.perf_counter() - t0))
            events += seg.update(p, i * FRAME_MS)
        edges.append({"clip": clip.id, "events": [(e.kind, e.at_ms - 1000, e.decided_ms - 1000) for e in events]})
    return {"frame_ms": percentiles(per_frame_ms, digits=3),
            "segments": edges, "note": "times in ms from the clip's first sample: (kind, at_ms, decided_ms)"}


def run(args) -> dict:
    models = ["whisper-tiny.en"] if args.quick else [m.strip() for m in args.models.split(",") if m.strip()]
    if args.quick:
        args.repeats = 1
    sets = {"librivox": librivox()}
    if args.short_words and not args.quick:
        sets["short_words"] = short_words()
    if not sets["librivox"]:
        raise SystemExit("benchmarks.asr needs Debian's pocketsphinx-testdata (LibriVox clips)")
    results = {"suite": "asr", "machine": {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)},
               "settings": {"threads": args.threads, "compute_type": args.compute_type, "encoder": args.encoder,
                            "repeats": args.repeats,
                            "beam_size": 1, "headroom_s": 3.0},
               "sets": {}}
    results["vad"] = _bench_vad(sets["librivox"])
    for set_name, clips in sets.items():
        if clips:
            results["sets"][set_name] = {m: _bench_model(m, clips, args) for m in models}
    results["machine"]["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1))
    if args.report:
        Path(args.report).write_text(report(results))
    if args.plot:
        plot(results, args.plot)
    return {**results, "report_markdown": report(results)}


def report(results: dict) -> str:
    s = results["settings"]
    lines = ["# ASR: trimmed encoder window vs 30 s pad", "",
             f"Greedy decoding, {s['threads']} threads, compute type `{s['compute_type']}`, trimmed-window "
             f"encoder {s.get('encoder', 'ctranslate2')}, median of "
             f"{s['repeats']} run(s) per clip; load average {results['machine']['load_avg_1m']} before, "
             f"{results['machine']['load_avg_1m_after']} after, on {results['machine']['cpus']} CPUs.", ""]
    vad = results["vad"]
    lines += ["## Silero VAD", "", f"Per 32 ms frame: p50 {vad['frame_ms']['p50']:.2f} ms, p95 {vad['frame_ms']['p95']:.2f} ms. "
              "Speech edges (ms from the clip's start; decided = when the segmenter could tell):", ""]
    for row in vad["segments"]:
        lines.append(f"- {row['clip'][-4:]}: " + ", ".join(f"{k} at {a:.0f} (decided {d:.0f})" for k, a, d in row["events"]))
    lines.append("")
    for set_name, models in results["sets"].items():
        lines += [f"## {set_name}", "", "| model | way | WER mean | WER max | time p50 ms | time p95 ms | RTF p50 |",
                  "|---|---|---|---|---|---|---|"]
        for name, r in models.items():
            for way, label in (("trimmed", "trimmed window"), ("pad30", "30 s pad")):
                w = r[way]
                lines.append(f"| {name} | {label} | {w['wer_mean']:.3f} | {w['wer_max']:.3f} | "
                             f"{w['time_ms']['p50']:.0f} | {w['time_ms']['p95']:.0f} | {w['real_time_factor_p50']:.3f} |")
        lines += ["", "Speed-up of the trimmed window (p50): " +
                  ", ".join(f"{n} x{r['speedup_p50']}" for n, r in models.items()) +
                  "; clips decoded again after a loop: " +
                  ", ".join(f"{n} {r['retried_clips']}/{len(r['clips'])}" for n, r in models.items()), ""]
        for name, r in models.items():
            for row in r["clips"]:
                if row["trimmed_wer"] > 0 or row["pad30_wer"] > 0:
                    lines.append(f"- {name} {row['clip']}: trimmed \"{row['trimmed_text']}\" "
                                 f"(WER {row['trimmed_wer']:.2f}), 30 s \"{row['pad30_text']}\" (WER {row['pad30_wer']:.2f})")
        lines.append("")
    return "\n".join(lines)


def plot(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(s, m, r) for s, models in results["sets"].items() for m, r in models.items()]
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 2.6 * len(panels)), squeeze=False)
    for ax, (set_name, name, r) in zip(axes[:, 0], panels):
        x = np.arange(len(r["clips"]))
        ax.bar(x - 0.2, [c["trimmed_ms"] for c in r["clips"]], 0.4, label="trimmed window")
        ax.bar(x + 0.2, [c["pad30_ms"] for c in r["clips"]], 0.4, label="30 s pad")
        ax.set_xticks(x, [c["clip"][-12:] for c in r["clips"]], fontsize=7, rotation=30)
        ax.set_ylabel("ms")
        ax.set_title(f"{set_name}: {name}", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    results = run(args)
    if not (args.json_out or args.report):
        json.dump(results, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
