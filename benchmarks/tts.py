"""`warmline bench tts`: speed, audible emotion and intelligibility of the voices.

Measures, per backend (Piper joe and hibari heart, the two voices a session can choose, side by side): time to the first audio chunk and real-time factor for short and long replies
(also through the 24 kHz / 8 kHz resampler); per emotion, the prosody of the output (median pitch,
pitch range, speaking time, loudness) against neutral and against the direction profiles.toml
documents; Whisper base WER per emotion against neutral; and, when paralinguistics/ is importable,
how often its emotion classifier hears the intended emotion (EmoAlign) versus on neutral speech.
Run: python -m benchmarks.tts [--quick] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time
from pathlib import Path

import numpy as np

SHORT_REPLIES = ["I hear you.", "Oh, I see.", "That makes sense.", "I'm here with you.", "Take your time.",
                 "Thank you for telling me.", "That sounds hard.", "Okay, let's slow down."]
LONG_REPLIES = [
    "That sounds really exhausting, and it makes sense that you feel worn out. You have been carrying a lot "
    "on your own for a long time. Would it help to talk through what the hardest part of today was?",
    "I'm really glad you called tonight. Let's take this one step at a time, starting with where you are "
    "right now and what you need in the next hour. You don't have to figure everything out at once.",
]
SENTENCES = ["I understand how difficult this has been for you.", "Tell me a little more about what happened today.",
             "We can take this one step at a time.", "Your feelings make sense, and you are not alone.",
             "Let's think together about what might help tonight.", "Thank you for being so honest with me.",
             "It is okay to feel tired after a week like this.", "Would you like to try a short breathing exercise?"]
NEURAL_VOICES = ("piper", "hibari")  # the voices a session can choose: every measure runs on both
# The classes of Warmline's 8-emotion head that each reply tone should pull toward. Neutral is left out:
# neutral synthesis is heard as neutral, so a tone that counted "neutral" as agreement could never beat it.
EMOALIGN_TARGETS = {"warm": {"happy", "calm"}, "gentle": {"calm", "sad"}, "calm": {"calm"}, "reassuring": {"calm"},
                    "cheerful": {"happy", "surprised"}, "serious": {"angry", "sad"}}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backends", default="piper,hibari,espeak", help="comma-separated: piper, hibari, espeak, coqui")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and sentences (under two minutes)")
    parser.add_argument("--threads", type=int, default=1, help="threads for Piper / hibari (onnxruntime) and the Whisper check")
    parser.add_argument("--no-wer", action="store_true", help="skip the Whisper intelligibility check")
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--report-dir", default=None,
                        help="Markdown report and plot go here (default: $WARMLINE_BENCH_DIR/tts, else bench-results/tts)")


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def _stats(values: list[float]) -> dict:
    return {"p50": round(_pct(values, 50), 1), "p90": round(_pct(values, 90), 1), "n": len(values)}


def _build(backend: str, threads: int):
    from tts import build_voice

    options = {"threads": threads} if backend in NEURAL_VOICES else {}
    t0 = time.perf_counter()
    voice = build_voice(backend, device="auto", **options)
    return voice, time.perf_counter() - t0


def measure_latency(voice, texts: list[str], repeats: int) -> dict:
    first_ms, rtf = [], []
    for _ in range(repeats):
        for text in texts:
            t0 = time.perf_counter()
            first, samples = None, 0
            for chunk in voice.synthesize(text, emotion="warm"):
                if first is None:
                    first = time.perf_counter() - t0
                samples += chunk.samples.size
            total = time.perf_counter() - t0
            first_ms.append(1000 * first)
            rtf.append(total / (samples / voice.sample_rate))
    return {"first_audio_ms": _stats(first_ms), "real_time_factor": {"p50": round(_pct(rtf, 50), 3),
                                                                     "p90": round(_pct(rtf, 90), 3)}}


def _render(voice, text: str, emotion: str) -> np.ndarray:
    return np.concatenate([c.samples for c in voice.synthesize(text, emotion=emotion)])


def measure_prosody(voice, sentences: list[str]) -> dict:
    from tts.base import EMOTIONS
    from tts.measure import prosody_features
    from tts.pitch import FMAX

    audio = {e: [_render(voice, s, e) for s in sentences] for e in EMOTIONS}
    ceiling = getattr(voice, "f0_max_hz", FMAX)  # the pitch tracker's ceiling, raised for a high voice
    feats = {e: prosody_features(np.concatenate(a), voice.sample_rate, f0_max_hz=ceiling) for e, a in audio.items()}
    neutral = feats["neutral"]
    rows = {}
    for emotion in EMOTIONS:
        f, p = feats[emotion], voice.profiles.profiles[emotion]
        row = {"f0_median_hz": round(f["f0_median_hz"], 1),
               "pitch_shift_st": round(12 * np.log2(f["f0_median_hz"] / neutral["f0_median_hz"]), 2),
               "pitch_range_ratio": round(f["f0_range_st"] / neutral["f0_range_st"], 3),
               "rate_ratio": round(neutral["speech_s"] / f["speech_s"], 3),
               "energy_db": round(f["rms_db"] - neutral["rms_db"], 2),
               "documented": {"pitch_semitones": p.pitch_semitones, "pitch_range": p.pitch_range, "rate": p.rate,
                              "energy_db": p.energy_db}}
        checks = {}
        if emotion != "neutral":
            if abs(p.pitch_semitones) >= 0.5:
                checks["pitch"] = bool(np.sign(row["pitch_shift_st"]) == np.sign(p.pitch_semitones))
            if abs(p.pitch_range - 1) >= 0.1:
                checks["pitch_range"] = bool(np.sign(row["pitch_range_ratio"] - 1) == np.sign(p.pitch_range - 1))
            if abs(p.rate - 1) >= 0.03:
                checks["rate"] = bool(np.sign(row["rate_ratio"] - 1) == np.sign(p.rate - 1))
            if abs(p.energy_db) >= 1:
                checks["energy"] = bool(np.sign(row["energy_db"]) == np.sign(p.energy_db))
        row["direction_ok"] = checks
        rows[emotion] = row
    all_checks = [ok for r in rows.values() for ok in r["direction_ok"].values()]
    return {"per_emotion": rows, "directions_ok": sum(all_checks), "directions_checked": len(all_checks)}, audio


def _wer(ref: str, hyp: str) -> float:
    try:
        from benchmarks.metrics import wer

        return float(wer(ref, hyp))
    except ImportError:
        r, h = _words(ref), _words(hyp)
        d = list(range(len(h) + 1))
        for i in range(1, len(r) + 1):
            prev, d[0] = d[0], i
            for j in range(1, len(h) + 1):
                prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r[i - 1] != h[j - 1]))
        return d[len(h)] / max(len(r), 1)


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]", " ", text.lower().replace("let's", "let us")).split()


def measure_wer(audio: dict, sentences: list[str], sample_rate: int, threads: int = 1) -> dict:
    from faster_whisper import WhisperModel

    from server.audio import resample
    from server.models import resolve

    model = WhisperModel(resolve("whisper-base"), device="cpu", compute_type="int8", cpu_threads=threads)
    out = {}
    for emotion, clips in audio.items():
        errors = []
        for ref, clip in zip(sentences, clips):
            segments, _ = model.transcribe(resample(clip, sample_rate, 16000), language="en", beam_size=1)
            errors.append(_wer(ref, " ".join(s.text for s in segments)))
        out[emotion] = round(100 * float(np.mean(errors)), 2)
    neutral = out["neutral"]
    return {"wer_percent": out, "max_points_above_neutral": round(max(v - neutral for v in out.values()), 2),
            "within_3_points": all(v - neutral <= 3.0 for v in out.values())}


def measure_emoalign(audio: dict, sample_rate: int, threads: int = 1) -> dict:
    try:
        from paralinguistics.analyser import VoiceAnalyser
    except Exception as exc:
        return {"status": "not available", "reason": f"{type(exc).__name__}: {exc}"}
    from server.audio import resample

    analyser = VoiceAnalyser(cpu_threads=threads)

    def heard(clip: np.ndarray) -> dict:
        emotion = analyser.analyse(resample(clip, sample_rate, 16000)).to_dict().get("emotion") or {}
        return {"label": str(emotion.get("label", "")).lower(), "distribution": emotion.get("distribution") or {}}

    results = {e: [heard(c) for c in clips] for e, clips in audio.items()}

    def agree(rows, target):  # how often the classifier's label is one the tone pulls toward
        return round(float(np.mean([r["label"] in target for r in rows])), 3)

    def mass(rows, target):  # the classifier's mean probability on those labels
        return round(float(np.mean([sum(r["distribution"].get(k, 0.0) for k in target) for r in rows])), 3)

    rows = {}
    for emotion, target in EMOALIGN_TARGETS.items():
        if emotion in results and "neutral" in results:
            rendered, neutral = results[emotion], results["neutral"]
            rows[emotion] = {"target": sorted(target), "agree_rendered": agree(rendered, target),
                             "agree_on_neutral": agree(neutral, target), "target_prob_rendered": mass(rendered, target),
                             "target_prob_on_neutral": mass(neutral, target), "labels": [r["label"] for r in rendered]}
    better = [r["agree_rendered"] > r["agree_on_neutral"] for r in rows.values()]
    moved = [r["target_prob_rendered"] > r["target_prob_on_neutral"] for r in rows.values()]
    return {"status": "ok", "per_emotion": rows, "emotions_better_than_neutral": f"{sum(better)}/{len(better)}",
            "emotions_moved_toward_target": f"{sum(moved)}/{len(moved)}"}


def run(args: argparse.Namespace) -> dict:
    from tts.resample import ResampledVoice

    repeats = 2 if args.quick else 5
    sentences = SENTENCES[:3] if args.quick else SENTENCES

    results: dict = {"suite": "tts", "quick": bool(args.quick), "cpu_count": os.cpu_count(),
                     "load_average_at_start": round(os.getloadavg()[0], 2), "backends": {}}
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        try:
            voice, load_s = _build(backend, args.threads)
        except Exception as exc:
            results["backends"][backend] = {"status": "not available", "reason": f"{type(exc).__name__}: {exc}"}
            continue
        entry: dict = {"status": "ok", "voice": voice.name, "sample_rate": voice.sample_rate, "load_s": round(load_s, 2)}
        entry["short_reply"] = measure_latency(voice, SHORT_REPLIES, repeats)
        entry["long_reply"] = measure_latency(voice, LONG_REPLIES, 1 if args.quick else 2)
        for rate in (24000, 8000):
            entry[f"short_reply_at_{rate}"] = measure_latency(ResampledVoice(voice, rate), SHORT_REPLIES[:4], 1)
        entry["prosody"], audio = measure_prosody(voice, sentences)
        quick_skip = args.quick and backend not in NEURAL_VOICES
        entry["intelligibility"] = ({"status": "skipped"} if args.no_wer or quick_skip
                                    else measure_wer(audio, sentences, voice.sample_rate, args.threads))
        entry["emoalign"] = (measure_emoalign(audio, voice.sample_rate, args.threads) if backend in NEURAL_VOICES
                             else {"status": "skipped"})
        results["backends"][backend] = entry
    results["load_average_at_end"] = round(os.getloadavg()[0], 2)
    args.report_dir = args.report_dir or str(Path(os.environ.get("WARMLINE_BENCH_DIR", "bench-results")) / "tts")
    markdown = _report(results, Path(args.report_dir))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=1))
    return {**results, "report_markdown": markdown}


def _report(results: dict, folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["# TTS benchmark", "", f"CPU: {results['cpu_count']} cores, load average {results['load_average_at_start']} "
             f"at start, {results['load_average_at_end']} at end (other work shares the cores).", "", "| backend | load s | short: first audio p50/p90 ms | short RTF p50 | "
             "long: first audio p50 ms | long RTF p50 | first audio @24k / @8k p50 ms |", "|---|---|---|---|---|---|---|"]
    for name, e in results["backends"].items():
        if e.get("status") != "ok":
            lines.append(f"| {name} | {e.get('reason', '')} | | | | | |")
            continue
        s, l = e["short_reply"], e["long_reply"]
        lines.append(f"| {name} | {e['load_s']} | {s['first_audio_ms']['p50']} / {s['first_audio_ms']['p90']} | "
                     f"{s['real_time_factor']['p50']} | {l['first_audio_ms']['p50']} | {l['real_time_factor']['p50']} | "
                     f"{e['short_reply_at_24000']['first_audio_ms']['p50']} / {e['short_reply_at_8000']['first_audio_ms']['p50']} |")
    for name, e in results["backends"].items():
        if e.get("status") != "ok":
            continue
        p = e["prosody"]
        lines += ["", f"## {name}: prosody against neutral ({p['directions_ok']}/{p['directions_checked']} "
                  "directions as documented)", "", "| emotion | pitch st | range x | rate x | energy dB | "
                  "documented (st, range, rate, dB) | direction | WER % |", "|---|---|---|---|---|---|---|---|"]
        wer = e["intelligibility"].get("wer_percent", {})
        for emo, r in p["per_emotion"].items():
            d = r["documented"]
            ok = ", ".join(f"{k} {'ok' if v else 'WRONG'}" for k, v in r["direction_ok"].items())
            lines.append(f"| {emo} | {r['pitch_shift_st']:+.2f} | {r['pitch_range_ratio']} | {r['rate_ratio']} | "
                         f"{r['energy_db']:+.2f} | {d['pitch_semitones']:+}, {d['pitch_range']}, {d['rate']}, "
                         f"{d['energy_db']:+} | {ok} | {wer.get(emo, '-')} |")
        intel = e["intelligibility"]
        if "within_3_points" in intel:
            lines.append(f"\nWER worst emotion vs neutral: {intel['max_points_above_neutral']:+} points "
                         f"({'within' if intel['within_3_points'] else 'NOT within'} 3).")
        ea = e["emoalign"]
        lines.append(f"\nEmoAlign ({ea.get('status')}{': ' + ea['reason'] if ea.get('reason') else ''}): the emotion "
                     f"classifier's label fits the tone more often than on neutral synthesis for "
                     f"{ea.get('emotions_better_than_neutral', '-')} tones; its probability on the tone's emotions "
                     f"rose over neutral synthesis for {ea.get('emotions_moved_toward_target', '-')}.")
        for tone, r in (ea.get("per_emotion") or {}).items():
            lines.append(f"- {tone} ({', '.join(r['target'])}): label {r['agree_rendered']} vs {r['agree_on_neutral']} "
                         f"on neutral; probability {r['target_prob_rendered']} vs {r['target_prob_on_neutral']}")
    lines += _side_by_side(results)
    (folder / "report.md").write_text("\n".join(lines) + "\n")
    _plot(results, folder / "prosody.png")
    _plot_voices(results, folder / "voices.png")
    return "\n".join(lines) + "\n\n![prosody against neutral](prosody.png)\n\n![the voices per tone](voices.png)\n"


def _voices(results: dict) -> list[tuple[str, dict]]:
    return [(n, e) for n, e in results["backends"].items()
            if n in NEURAL_VOICES and e.get("status") == "ok" and e["emoalign"].get("status") == "ok"]


def _side_by_side(results: dict) -> list[str]:
    """One row per tone, one column group per voice: EmoAlign label and probability (vs neutral synthesis) and WER."""
    voices = _voices(results)
    if not voices:
        return []
    lines = ["", "## The voices side by side", "",
             "First chunk of a short reply p50 / p90: " + "; ".join(
                 f"{n} {e['short_reply']['first_audio_ms']['p50']} / {e['short_reply']['first_audio_ms']['p90']} ms "
                 f"(RTF {e['short_reply']['real_time_factor']['p50']})" for n, e in voices) + ".", "",
             "| tone | " + " | ".join(f"{n}: label (neutral) | {n}: prob (neutral) | {n}: WER %" for n, _ in voices) + " |",
             "|---|" + "---|---|---|" * len(voices)]
    for tone in EMOALIGN_TARGETS:
        cells = []
        for _, e in voices:
            r, wer = e["emoalign"]["per_emotion"][tone], e["intelligibility"].get("wer_percent", {})
            cells.append(f"{r['agree_rendered']} ({r['agree_on_neutral']}) | {r['target_prob_rendered']} "
                         f"({r['target_prob_on_neutral']}) | {wer.get(tone, '-')} (neutral {wer.get('neutral', '-')})")
        lines.append(f"| {tone} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Label above neutral synthesis: " + "; ".join(
        f"{n} {e['emoalign']['emotions_better_than_neutral']}" for n, e in voices) + ". Probability above neutral: "
        + "; ".join(f"{n} {e['emoalign']['emotions_moved_toward_target']}" for n, e in voices) + ".")
    return lines


def _plot_voices(results: dict, path: Path) -> None:
    """Per tone and voice: the classifier's label share and probability on the tone's emotions, against neutral."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    voices = _voices(results)
    if not voices:
        return
    tones = list(EMOALIGN_TARGETS)
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    width = 0.8 / (2 * len(voices))
    x = np.arange(len(tones))
    for ax, (key, title) in zip(axes, [("agree", "label share on the tone's emotions"),
                                       ("target_prob", "probability on the tone's emotions")]):
        for i, (name, e) in enumerate(voices):
            per = e["emoalign"]["per_emotion"]
            offset = (2 * i - len(voices)) * width
            ax.bar(x + offset, [per[t][f"{key}_rendered"] for t in tones], width, label=f"{name}: tone")
            ax.bar(x + offset + width, [per[t][f"{key}_on_neutral"] for t in tones], width, alpha=0.45,
                   label=f"{name}: neutral synthesis")
        ax.set_xticks(x, tones, fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    backends = [(n, e) for n, e in results["backends"].items() if e.get("status") == "ok"]
    if not backends:
        return
    fig, axes = plt.subplots(len(backends), 4, figsize=(14, 3 * len(backends)), squeeze=False)
    keys = [("pitch_shift_st", "pitch_semitones", "pitch shift (st)"), ("pitch_range_ratio", "pitch_range", "pitch range (x)"),
            ("rate_ratio", "rate", "rate (x)"), ("energy_db", "energy_db", "energy (dB)")]
    for row, (name, e) in enumerate(backends):
        per = e["prosody"]["per_emotion"]
        emotions = list(per)
        for col, (measured, documented, title) in enumerate(keys):
            ax = axes[row][col]
            x = np.arange(len(emotions))
            ax.bar(x - 0.2, [per[m][measured] for m in emotions], 0.4, label="measured")
            ax.bar(x + 0.2, [per[m]["documented"][documented] for m in emotions], 0.4, label="documented")
            ax.set_xticks(x, emotions, rotation=45, fontsize=7)
            ax.set_title(f"{name}: {title}", fontsize=9)
        axes[row][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args()
    results = run(args)
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk in ("status", "short_reply", "long_reply")}
                      for k, v in results["backends"].items()}, indent=1))
    print(f"report: {args.report_dir}/report.md")


if __name__ == "__main__":
    main()
