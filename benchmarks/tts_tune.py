"""Tune each reply tone's prosody (Piper joe or hibari heart) against Warmline's own emotion classifier (issue 6, EmoAlign).

Per tone, a coordinate search over the profile knobs, within bounds that keep the voice natural (BOUNDS),
maximising how often the voice analyser's emotion label is one of the tone's target emotions
(benchmarks.tts.EMOALIGN_TARGETS), with the mean probability on those emotions as the tie-break. The search
only ever hears TUNING_SENTENCES; the result is then reported on the benchmark's own sentences
(benchmarks.tts.SENTENCES, the held-out set), rendered afresh, against neutral synthesis and against the
current profiles.toml. Pauses are not searched (they stay as profiles.toml has them).

Run:  python -m benchmarks.tts_tune [--voice piper-joe|hibari-heart] [--quick] [--tones calm,serious] [--keep-direction]
      [--write] [--json OUT]
It prints the proposed values as TOML; `--write` puts them into the voice's table (tts/profiles.toml for Piper,
tts/profiles_hibari.toml for hibari), only for the tones whose
held-out label agreement beats neutral synthesis (the file's comments are left as they are: edit them).
`--keep-direction` keeps each knob on the side of neutral the current profile has (serious stays low and
slow instead of turning into gentle). After the search, Whisper base checks the chosen profile on the tuning
sentences; a profile more than 3 points above neutral's WER gives way to the next best candidate.

Cost: every candidate is rendered for each tuning sentence and classified (~0.5 s per sentence on one
loaded core): all six tones ~21 min (2290 classifier calls), one tone ~3.5 min, --quick ~3.5 min. Piper's raw audio is cached per (clause, rate, variation), so pitch, range and energy
candidates are compared on the same Piper noise draw; rate and variation candidates get a fresh draw.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from benchmarks.tts import EMOALIGN_TARGETS, LONG_REPLIES, SENTENCES, SHORT_REPLIES, _wer

# The search never hears these. Same register and length as the benchmark's sentences (about 2-3 s each).
TUNING_SENTENCES = [
    "I can hear how much this has been weighing on you.",
    "You did the right thing by reaching out tonight.",
    "It sounds like the last few days have been really heavy.",
    "We can go as slowly as you need to.",
    "What would feel most helpful for you right now?",
    "That must have been a frightening thing to go through.",
    "I'm glad you told me, and I'm staying right here.",
    "Maybe we can find one small thing to try this evening.",
    "You have gotten through hard nights before, and you can again.",
    "Nothing you have said changes how much you matter.",
]
HELD_OUT_SENTENCES = list(SENTENCES)  # what `warmline bench tts` renders and scores

# Natural-sounding bounds for a profile's values (intensity 0.5; intensity 1.0 doubles each difference from
# neutral). Beyond them the voice starts to sound processed (TD-PSOLA past +-4 st, ranges past 0.5-1.8x) or
# hurried/dragging (rate), or too quiet for a phone line (energy).
BOUNDS = {"pitch_semitones": (-4.0, 4.0), "energy_db": (-8.0, 4.0), "rate": (0.75, 1.25),
          "pitch_range": (0.5, 1.8), "variation": (0.6, 1.6)}
KNOBS = tuple(BOUNDS)  # the order the coordinate search visits them
# The coarse levels each knob tries (all inside BOUNDS), and the quick run's.
LEVELS = {"pitch_semitones": (-4, -3, -2, -1, 0, 1, 2, 3, 4), "energy_db": (-8, -6, -4, -2, 0, 2, 4),
          "rate": (0.75, 0.83, 0.92, 1.0, 1.08, 1.16, 1.25), "pitch_range": (0.5, 0.7, 0.85, 1.0, 1.2, 1.5, 1.8),
          "variation": (0.6, 0.8, 1.0, 1.3, 1.6)}
QUICK_LEVELS = {"pitch_semitones": (-4, -2, 0, 2, 4), "energy_db": (-8, -4, 0, 4), "rate": (0.75, 1.0, 1.25),
                "pitch_range": (0.5, 1.0, 1.8), "variation": (0.6, 1.0, 1.6)}
STEP = {"pitch_semitones": 0.25, "energy_db": 0.5, "rate": 0.01, "pitch_range": 0.05, "variation": 0.05}  # rounding
WER_SLACK_POINTS = 3.0  # the intelligibility criterion: within 3 points of neutral


def clamp(knob: str, value: float) -> float:
    """A knob's value inside BOUNDS, rounded to its STEP."""
    lo, hi = BOUNDS[knob]
    step = STEP[knob]
    return round(min(max(float(value), lo), hi) / step) * step if step else min(max(float(value), lo), hi)


def tidy(knob: str, value: float) -> float:
    return round(clamp(knob, value), 4)


def fine_levels(knob: str, best: float, levels: tuple) -> list[float]:
    """Half-way points between `best` and its neighbours on the coarse grid (clamped, deduplicated)."""
    grid = sorted(set(map(float, levels)) | {float(best)})
    i = grid.index(float(best))
    out = []
    if i > 0:
        out.append(tidy(knob, (grid[i - 1] + best) / 2))
    if i < len(grid) - 1:
        out.append(tidy(knob, (grid[i + 1] + best) / 2))
    return [v for v in dict.fromkeys(out) if v != tidy(knob, best)]


NEUTRAL_VALUE = {"pitch_semitones": 0.0, "energy_db": 0.0, "rate": 1.0, "pitch_range": 1.0, "variation": 1.0}


def same_side(knob: str, start: float, levels) -> tuple:
    """The levels on the same side of neutral as `start` (neutral itself included): with --keep-direction a
    tone keeps the direction its hand-written profile documents. A knob at neutral may go either way."""
    n = NEUTRAL_VALUE[knob]
    if abs(start - n) < 1e-9:
        return tuple(levels)
    return tuple(v for v in levels if (v - n) * (start - n) >= 0)


def _norm(s: str) -> str:
    return re.sub(r"[^a-z ]", "", s.lower()).strip()


def sentences_disjoint(tuning: list[str], held_out: list[str]) -> bool:
    return not ({_norm(s) for s in tuning} & {_norm(s) for s in held_out})


def score(heard: list[tuple[str, dict]], target: set[str]) -> tuple[float, float]:
    """(share of labels in `target`, mean probability on `target`): the search's objective, compared in order."""
    if not heard:
        return 0.0, 0.0
    agree = float(np.mean([label in target for label, _ in heard]))
    mass = float(np.mean([sum(dist.get(k, 0.0) for k in target) for _, dist in heard]))
    return agree, mass


def apply_to_toml(text: str, values: dict[str, dict[str, float]]) -> str:
    """profiles.toml with `values[tone][knob]` written into each tone's table, everything else untouched."""
    out, section = [], None
    for line in text.splitlines(keepends=True):
        head = re.match(r"\s*\[([A-Za-z_]+)\]", line)
        if head:
            section = head.group(1)
        else:
            m = re.match(r"(\s*)([a-z_]+)(\s*=\s*)([-+0-9.eE]+)(.*)", line, re.S)
            if m and section in values and m.group(2) in values[section]:
                line = f"{m.group(1)}{m.group(2)}{m.group(3)}{_fmt(values[section][m.group(2)])}{m.group(5)}"
        out.append(line)
    return "".join(out)


def _fmt(v: float) -> str:
    return f"{float(v):g}" if float(v) != int(v) else f"{float(v):.1f}"


def _key(p) -> tuple:
    return tuple(round(getattr(p, k), 4) for k in KNOBS)


@dataclass
class Evaluator:
    """Renders a candidate Prosody for a sentence set through the real voice and has the analyser hear it."""

    voice: object
    analyser: object
    raw_cache: dict = field(default_factory=dict)
    heard_cache: dict = field(default_factory=dict)
    evaluations: int = 0

    def __post_init__(self) -> None:
        self._raw = self.voice._raw
        self._neutral = self.voice.profiles.profiles["neutral"]
        self._table = self.voice.profiles

    def _cached_raw(self, spoken, prosody, cancel):
        key = (spoken, round(prosody.rate, 4), round(prosody.variation, 4))
        if self.voice._own_pitch(prosody):  # hibari sets pitch in its raw audio: the raw depends on it
            key += (round(prosody.pitch_semitones, 4), round(prosody.pitch_range, 4))
        if key not in self.raw_cache:
            self.raw_cache[key] = self._raw(spoken, prosody, cancel)
        return self.raw_cache[key]

    def render(self, text: str, prosody, *, fresh: bool = False) -> np.ndarray:
        from tts.profiles import ProfileTable

        self.voice._raw = self._raw if fresh else self._cached_raw
        self.voice.profiles = ProfileTable({"neutral": self._neutral, "_candidate": prosody})
        try:
            return np.concatenate([c.samples for c in self.voice.synthesize(text, emotion="_candidate", intensity=0.5)])
        finally:
            self.voice._raw, self.voice.profiles = self._raw, self._table

    def hear(self, clip: np.ndarray) -> tuple[str, dict]:
        from server.audio import resample

        emotion = self.analyser.analyse(resample(clip, self.voice.sample_rate, 16000)).to_dict().get("emotion") or {}
        return str(emotion.get("label", "")).lower(), dict(emotion.get("distribution") or {})

    def __call__(self, prosody, sentences: list[str]) -> list[tuple[str, dict]]:
        out = []
        for s in sentences:
            key = (s, _key(prosody))
            if key not in self.heard_cache:
                self.heard_cache[key] = self.hear(self.render(s, prosody))
                self.evaluations += 1
            out.append(self.heard_cache[key])
        return out


class Progress:
    def __init__(self, total: int, quiet: bool = False) -> None:
        self.t0, self.total, self.done, self.quiet = time.perf_counter(), total, 0, quiet
        try:
            from tqdm import tqdm

            self.bar = None if quiet else tqdm(total=total, unit="cand", file=sys.stderr, dynamic_ncols=True)
        except ImportError:
            self.bar = None

    def step(self, text: str) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=False)
            self.bar.update(1)
        elif not self.quiet:
            el = time.perf_counter() - self.t0
            eta = el / self.done * max(self.total - self.done, 0)
            print(f"[{self.done}/{self.total} {el:5.0f}s, ~{eta:4.0f}s left] {text}", file=sys.stderr, flush=True)

    def note(self, text: str) -> None:
        (self.bar.write if self.bar is not None else (lambda t: print(t, file=sys.stderr, flush=True)))(text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def tune_tone(tone: str, start, evaluate: Evaluator, sentences: list[str], *, levels: dict, passes: int,
              fine: bool, progress: Progress, keep_direction: bool = False) -> dict:
    """Coordinate search from `start` (the current profile): each knob in turn tries its levels with the
    others fixed, keeping the best; `passes` coarse sweeps (stopping early once a sweep changes nothing),
    then, with `fine`, the half-way points around the best. Returns the best and every candidate tried."""
    target = EMOALIGN_TARGETS[tone]
    tried: dict[tuple, tuple[tuple[float, float], object]] = {}

    def consider(p) -> tuple[float, float]:
        if _key(p) not in tried:
            tried[_key(p)] = (score(evaluate(p, sentences), target), p)
            s = tried[_key(p)][0]
            progress.step(f"{tone}: {_describe(p)} -> label {s[0]:.2f} prob {s[1]:.3f}")
        return tried[_key(p)][0]

    best = replace(start, **{k: tidy(k, getattr(start, k)) for k in KNOBS})
    if keep_direction:
        levels = {k: same_side(k, getattr(best, k), v) for k, v in levels.items()}
    best_score = consider(best)

    def sweep(kind: str, values_for) -> bool:
        nonlocal best, best_score
        before = _key(best)
        for knob in KNOBS:
            for value in values_for(knob):
                candidate = replace(best, **{knob: value})
                s = consider(candidate)
                if s > best_score:
                    best, best_score = candidate, s
        progress.note(f"{tone}: {kind} sweep: {_describe(best)}, label {best_score[0]:.2f}, prob {best_score[1]:.3f}")
        return _key(best) != before

    for _ in range(passes):
        if not sweep("coarse", lambda k: [tidy(k, v) for v in levels[k]]):
            break  # a sweep that changed nothing: the next would not either
    if fine:
        sweep("fine", lambda k: [v for v in fine_levels(k, getattr(best, k), levels[k])
                                 if not keep_direction or v in same_side(k, getattr(start, k), (v,))])
    ranked = sorted(tried.values(), key=lambda t: t[0], reverse=True)
    return {"best": best, "score": best_score, "ranked": ranked, "tried": len(tried)}


def _describe(p) -> str:
    return (f"rate {p.rate:.2f}, pitch {p.pitch_semitones:+.2f} st, range {p.pitch_range:.2f}, "
            f"energy {p.energy_db:+.1f} dB, variation {p.variation:.2f}")


def _values(p) -> dict[str, float]:
    return {k: round(float(getattr(p, k)), 4) for k in KNOBS}


def wer_of(model, clips: list[np.ndarray], refs: list[str], sample_rate: int) -> float:
    from server.audio import resample

    errors = []
    for ref, clip in zip(refs, clips):
        segments, _ = model.transcribe(resample(clip, sample_rate, 16000), language="en", beam_size=1)
        errors.append(_wer(ref, " ".join(s.text for s in segments)))
    return round(100 * float(np.mean(errors)), 2)


def held_out(evaluate: Evaluator, tables: dict[str, dict], sentences: list[str], repeats: int,
             progress: Progress) -> dict:
    """Each table's tones (and neutral synthesis) rendered afresh `repeats` times over the held-out sentences,
    scored as `warmline bench tts` scores EmoAlign: label share and target probability against neutral."""
    neutral = evaluate.voice.profiles.profiles["neutral"]
    heard_neutral = [evaluate.hear(evaluate.render(s, neutral, fresh=True)) for _ in range(repeats) for s in sentences]
    progress.note(f"held-out neutral: labels {_labels(heard_neutral)}")
    out: dict = {"neutral_labels": _labels(heard_neutral), "tables": {}}
    for name, profiles in tables.items():
        rows = {}
        for tone, p in profiles.items():
            heard = [evaluate.hear(evaluate.render(s, p, fresh=True)) for _ in range(repeats) for s in sentences]
            target = EMOALIGN_TARGETS[tone]
            (a, m), (an, mn) = score(heard, target), score(heard_neutral, target)
            rows[tone] = {"label": round(a, 3), "label_on_neutral": round(an, 3), "prob": round(m, 3),
                          "prob_on_neutral": round(mn, 3), "better_than_neutral": a > an, "moved": m > mn,
                          "labels": _labels(heard)}
            progress.note(f"held-out {name} {tone}: label {a:.3f} vs {an:.3f} on neutral, prob {m:.3f} vs {mn:.3f}"
                          f" ({_labels(heard)})")
        out["tables"][name] = {"per_tone": rows,
                               "better_than_neutral": f"{sum(r['better_than_neutral'] for r in rows.values())}/{len(rows)}",
                               "moved": f"{sum(r['moved'] for r in rows.values())}/{len(rows)}"}
    return out


def _labels(heard) -> dict[str, int]:
    counts: dict[str, int] = {}
    for label, _ in heard:
        counts[label] = counts.get(label, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def run(args: argparse.Namespace) -> dict:
    import torch

    torch.set_num_threads(1)
    from paralinguistics.analyser import VoiceAnalyser
    from tts import build_voice

    assert sentences_disjoint(TUNING_SENTENCES, HELD_OUT_SENTENCES + SHORT_REPLIES + LONG_REPLIES)
    tones = [t.strip() for t in (args.tones or ",".join(EMOALIGN_TARGETS)).split(",") if t.strip()]
    unknown = set(tones) - set(EMOALIGN_TARGETS)
    if unknown:
        raise SystemExit(f"unknown tones {sorted(unknown)}; choose from {', '.join(EMOALIGN_TARGETS)}")
    tuning = TUNING_SENTENCES[:4] if args.quick else TUNING_SENTENCES[:args.tuning_sentences]
    heldout = HELD_OUT_SENTENCES[:4] if args.quick else HELD_OUT_SENTENCES
    levels = QUICK_LEVELS if args.quick else LEVELS
    passes = 1 if args.quick else args.passes
    repeats = 1 if args.quick else args.repeats
    t0 = time.perf_counter()
    voice = build_voice(voice=args.voice, threads=1)
    evaluate = Evaluator(voice, VoiceAnalyser(cpu_threads=1))
    current = {t: voice.profiles.profiles[t] for t in tones}
    per_sweep = sum(len(v) for v in levels.values())
    progress = Progress(len(tones) * (1 + per_sweep * passes + (0 if args.quick else 2 * len(KNOBS))), args.no_progress)

    neutral = voice.profiles.profiles["neutral"]
    heard_neutral = evaluate(neutral, tuning)
    results: dict = {"suite": "tts_tune", "voice": args.voice, "quick": bool(args.quick), "bounds": BOUNDS, "levels": levels,
                     "keep_direction": bool(args.keep_direction),
                     "passes": passes, "fine": not args.quick, "tuning_sentences": tuning,
                     "held_out_sentences": heldout, "held_out_repeats": repeats,
                     "load_average_at_start": round(os.getloadavg()[0], 2),
                     "tuning_neutral_labels": _labels(heard_neutral), "tones": {}}
    chosen = {}
    for tone in tones:
        found = tune_tone(tone, current[tone], evaluate, tuning, levels=levels, passes=passes,
                          fine=not args.quick, progress=progress, keep_direction=args.keep_direction)
        target = EMOALIGN_TARGETS[tone]
        results["tones"][tone] = {
            "target": sorted(target), "current": _values(current[tone]),
            "current_tuning_score": [round(x, 3) for x in score(evaluate(current[tone], tuning), target)],
            "neutral_tuning_score": [round(x, 3) for x in score(heard_neutral, target)],
            "best": _values(found["best"]), "best_tuning_score": [round(x, 3) for x in found["score"]],
            "candidates_tried": found["tried"],
            "runner_up": [{"values": _values(p), "score": [round(x, 3) for x in s]} for s, p in found["ranked"][1:4]]}
        chosen[tone] = found
    progress.close()

    if not args.no_wer:  # Whisper base on the tuning sentences; walk down the ranking past a profile that loses words
        from faster_whisper import WhisperModel

        from server.models import resolve

        model = WhisperModel(resolve("whisper-base"), device="cpu", compute_type="int8", cpu_threads=1)
        neutral_wer = wer_of(model, [evaluate.render(s, neutral) for s in tuning], tuning, voice.sample_rate)
        results["tuning_wer_neutral"] = neutral_wer
        for tone in tones:
            picked = None
            for rank, (s, p) in enumerate(chosen[tone]["ranked"][:6]):
                w = wer_of(model, [evaluate.render(x, p) for x in tuning], tuning, voice.sample_rate)
                if w - neutral_wer <= WER_SLACK_POINTS:
                    picked = (rank, s, p, w)
                    break
                progress.note(f"{tone}: candidate {rank + 1} loses words (WER {w} vs neutral {neutral_wer}); next")
            if picked is None:  # none of the best six keeps the words: keep the current profile
                p = current[tone]
                s = score(evaluate(p, tuning), EMOALIGN_TARGETS[tone])
                picked = (-1, s, p, wer_of(model, [evaluate.render(x, p) for x in tuning], tuning, voice.sample_rate))
            rank, s, p, w = picked
            chosen[tone]["best"], chosen[tone]["score"] = p, s
            results["tones"][tone].update(best=_values(p), best_tuning_score=[round(x, 3) for x in s],
                                          tuning_wer=w, wer_rank=rank + 1)
        del model

    tuned = {t: chosen[t]["best"] for t in tones}
    results["held_out"] = held_out(evaluate, {"current": current, "tuned": tuned}, heldout, repeats, progress)
    results["evaluations"] = evaluate.evaluations
    results["minutes"] = round((time.perf_counter() - t0) / 60, 1)
    results["load_average_at_end"] = round(os.getloadavg()[0], 2)
    wins = {t for t, r in results["held_out"]["tables"]["tuned"]["per_tone"].items() if r["better_than_neutral"]}
    results["write_tones"] = sorted(wins)
    results["toml"] = "".join(f"[{t}]\n" + "".join(f"{k} = {_fmt(v)}\n" for k, v in _values(tuned[t]).items())
                              for t in tones)

    folder = Path(args.out_dir or Path(os.environ.get("WARMLINE_BENCH_DIR", "bench-results")) / "tts_tune")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tune.json").write_text(json.dumps(results, indent=1))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=1))
    report = _report(results)
    (folder / "report.md").write_text(report)
    print(report)
    print(f"written: {folder / 'tune.json'}, {folder / 'report.md'}")
    if args.write:
        table = voice.profiles.path
        if wins:
            table.write_text(apply_to_toml(table.read_text(), {t: _values(tuned[t]) for t in wins}))
            print(f"{table}: wrote {', '.join(sorted(wins))} (held-out label above neutral); "
                  "update the comments there")
        else:
            print(f"{table}: not written, no tuned tone beats neutral synthesis on the held-out sentences")
    return results


def _report(r: dict) -> str:
    h = r["held_out"]["tables"]
    lines = [f"# {r.get('voice', 'piper-joe')} tone profiles tuned against the emotion classifier", "",
             f"{'quick run, ' if r['quick'] else ''}{len(r['tuning_sentences'])} tuning sentences, "
             f"{len(r['held_out_sentences'])} held-out sentences (the bench's) x {r['held_out_repeats']} renderings, "
             f"{r['evaluations']} classifier calls in the search, {r['minutes']} min, load {r['load_average_at_start']} "
             f"-> {r['load_average_at_end']}.", "",
             "Bounds: " + ", ".join(f"{k} {lo:g}..{hi:g}" for k, (lo, hi) in r["bounds"].items())
             + (" (each knob kept on the current profile's side of neutral)" if r.get("keep_direction") else "")
             + ".", "",
             f"Neutral synthesis heard on the tuning sentences as {r['tuning_neutral_labels']}; on the held-out "
             f"as {r['held_out']['neutral_labels']}.", "",
             "| tone | targets | tuned values (rate, st, range, dB, variation) | tuning label / prob: neutral, current, tuned "
             "| held-out label: neutral, current, tuned | held-out prob: neutral, current, tuned | held-out labels (tuned) |",
             "|---|---|---|---|---|---|---|"]
    for tone, t in r["tones"].items():
        b, c, n = t["best_tuning_score"], t["current_tuning_score"], t["neutral_tuning_score"]
        hc, ht = h["current"]["per_tone"][tone], h["tuned"]["per_tone"][tone]
        v = t["best"]
        lines.append(f"| {tone} | {', '.join(t['target'])} | {v['rate']}, {v['pitch_semitones']:+}, {v['pitch_range']}, "
                     f"{v['energy_db']:+}, {v['variation']} | {n[0]}/{n[1]}, {c[0]}/{c[1]}, {b[0]}/{b[1]} | "
                     f"{ht['label_on_neutral']}, {hc['label']}, {ht['label']} | {ht['prob_on_neutral']}, {hc['prob']}, "
                     f"{ht['prob']} | {ht['labels']} |")
    lines += ["", f"Held-out, label above neutral synthesis: current profiles {h['current']['better_than_neutral']}, "
              f"tuned {h['tuned']['better_than_neutral']}; probability above neutral: current {h['current']['moved']}, "
              f"tuned {h['tuned']['moved']}."]
    if "tuning_wer_neutral" in r:
        lines.append(f"Whisper base WER on the tuning sentences: neutral {r['tuning_wer_neutral']} %, " + ", ".join(
            f"{t} {x['tuning_wer']} %" + (f" (candidate {x['wer_rank']})" if x["wer_rank"] > 1 else
                                           " (kept the current profile)" if x["wer_rank"] == 0 else "")
            for t, x in r["tones"].items()) + ".")
    lines += ["", "Proposed values (`--write` writes the tones whose held-out label beats neutral: "
              f"{', '.join(r['write_tones']) or 'none'}):", "", "```toml", r["toml"].rstrip(), "```", ""]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--voice", default="piper-joe", help="a voice catalog name: piper-joe (default) or hibari-heart")
    parser.add_argument("--quick", action="store_true",
                        help="4 tuning and 4 held-out sentences, 3-5 levels a knob, one sweep (a few minutes)")
    parser.add_argument("--tuning-sentences", type=int, default=len(TUNING_SENTENCES),
                        help=f"how many of the {len(TUNING_SENTENCES)} tuning sentences the search hears (fewer: faster)")
    parser.add_argument("--tones", default=None, help=f"comma-separated (default all: {', '.join(EMOALIGN_TARGETS)})")
    parser.add_argument("--passes", type=int, default=1,
                        help="coarse sweeps over the knobs (then one fine sweep); each adds ~20 min")
    parser.add_argument("--repeats", type=int, default=2, help="held-out renderings of each sentence")
    parser.add_argument("--keep-direction", action="store_true",
                        help="each knob stays on the side of neutral the current profile has (the tone keeps its character)")
    parser.add_argument("--no-wer", action="store_true", help="skip the Whisper base check on the chosen profiles")
    parser.add_argument("--write", action="store_true",
                        help="write the tuned values into the voice's profile table for the tones that beat neutral held-out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--out-dir", default=None,
                        help="tune.json and report.md go here (default: $WARMLINE_BENCH_DIR/tts_tune, else bench-results/tts_tune)")


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch loads: one thread, the box is shared
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
