"""`warmline bench safety`: the crisis screen on the development set's parts, each figure named by the
part it comes from, and (with `--speech`) the same statements spoken through the server.

Parts (`benchmarks/safety_sets/`, each file by its own author, who never saw the rules nor another file):
- `tune`: what the patterns and the scorer were tuned on (its figures are optimistic by construction);
- `heldout`: written separately, never tuned on: **the figures to quote**;
- `heldout_spoken`: a second held-out part in a speech recogniser's style, to confirm on;
- `final`: held-out parts written last, each read once at the end of the session that added it;
- `dialogue`: the dialogue suite's 76 cases (written beside the first rules; a regression check).
A part's name may also be one author's file (`--parts final_e`: `final_e.jsonl` alone), and every part's
figures are also given per author (the id's prefix: `FE-001` -> `FE`).

Each case runs through `SafetyPolicy.assess` turn by turn, as a call would (between turns the agent's words where
the case writes them, as in the `answers` parts: a question the caller answers; else a placeholder reply), and
counts as escalated if any of its turns escalated; its level is the gravest the call reached.
Members: the patterns alone, the scorer alone, both (the default screen); the voice cue off and on.
"""
from __future__ import annotations

import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from benchmarks import scoring as S
from benchmarks.report import plot_path, table
from dialogue.safety.scorer import DEFAULT_SCORER

SETS = Path(__file__).with_name("safety_sets")
# Each part is every author's file of it (`heldout_b.jsonl`, `heldout_c.jsonl`, ...): see safety_sets/README.md.
PARTS = {"heldout": "heldout_?.jsonl", "heldout_spoken": "heldout_spoken_?.jsonl", "final": "final_?.jsonl",
         "tune": "tune_?.jsonl", "longcall_tune": "longcall_[acdeghjo].jsonl", "longcall_heldout": "longcall_b.jsonl",
         "longcall_final": "longcall_[fiklmnp].jsonl", "answers_tune": "answers_[adeh].jsonl",
         "answers_heldout": "answers_b.jsonl", "answers_final": "answers_[cfg].jsonl"}
DIALOGUE = Path(__file__).with_name("dialogue_cases.jsonl")
QUOTED = "heldout"
DEAF = "patterns+scorer, answers unheard"  # the default screen without the answers member (parts with questions)
LONG_CALL = 8  # turns from which a case counts as a long call (the longcall sets: 12-30)
# The hard negatives issue 17 names for its false-alarm target ("ordinary distress, sadness, anger and idioms"),
# reported apart from the rest (innocent plans, the past, dark humour, ...), which are counted in the headline too.
DISTRESS_AND_IDIOMS = ("stress_exhaustion", "ordinary_sadness", "grief", "anger_venting", "idiom_death_words")


def add_arguments(p) -> None:
    p.add_argument("--parts", default=",".join([*PARTS, "dialogue"]),
                   help=f"which parts (default all: {', '.join(PARTS)}, dialogue)")
    p.add_argument("--cases", help="score this case file instead (named 'custom')")
    p.add_argument("--scorer", default=DEFAULT_SCORER, help=f"minilm, minilm+mpnet, a sentence-transformers folder, or off "
                   f"(default {DEFAULT_SCORER}, as the server loads it)")
    p.add_argument("--screens", help="only these screens, comma-separated (patterns, scorer, patterns+scorer, ...)")
    p.add_argument("--voices", default="off,on", help="the voice cue off, on, or both (off,on)")
    p.add_argument("--heads", help="another heads file for the scorer (a retrain, before it ships; default: the --scorer's own)")
    p.add_argument("--sensitivities", default="quiet,balanced,sensitive",
                   help="the scorer's operating points to measure the whole screen at (voice on), beside its default")
    p.add_argument("--speech", default="", help="also speak a held-out slice through the server: piper,espeak")
    p.add_argument("--speech-part", default="heldout", help="the part the spoken cases come from (--cases wins)")
    p.add_argument("--speech-limit", type=int, default=30, help="spoken cases per voice (a balanced slice)")
    p.add_argument("--url", help="ws:// URL of a running server for --speech (default: start one)")
    p.add_argument("--server-args", default="", help="extra `warmline serve` flags for the started server")
    p.add_argument("--concurrency", type=int, default=2, help="spoken sessions at once")
    p.add_argument("--no-listen", action="store_true", help="--speech: skip transcribing the reply audio")


def part_files(part: str) -> list[Path]:
    """The files of a part: every author's (`tune_b.jsonl`, `tune_c.jsonl`, ...), one author's file named by its
    stem (`final_e`), or the dialogue suite's."""
    if part == "dialogue":
        return [DIALOGUE]
    if part.endswith(".jsonl") and Path(part).exists():  # a case file of one's own
        return [Path(part)]
    if part not in PARTS and (SETS / f"{part}.jsonl").exists():
        return [SETS / f"{part}.jsonl"]
    return sorted(SETS.glob(PARTS[part]))


def load_part(part: str) -> list:
    from dialogue.safety import cases as C

    return [c for path in part_files(part) for c in C.load(path)]


def screens(scorer_spec: str, sensitivities: str = "", heads: str | None = None):
    """The members alone and together at the scorer's default sensitivity, then the whole screen at each other
    sensitivity named (`patterns+scorer (quiet)`)."""
    from dialogue.safety import RiskScorer, SafetyPolicy

    out = {"patterns": SafetyPolicy()}
    if scorer_spec != "off":
        scorer = RiskScorer.named(scorer_spec, heads)
        out["scorer"] = SafetyPolicy(scorer=scorer, patterns=False)
        out["patterns+scorer"] = SafetyPolicy(scorer=scorer)
        out[DEAF] = SafetyPolicy(scorer=scorer, answers=False)
        default = scorer.heads.get("sensitivity")
        for name in [n for n in sensitivities.split(",") if n and n != default]:
            out[f"patterns+scorer ({name})"] = SafetyPolicy(scorer=scorer.at(name))
    return out


def call(policy, case, *, with_voice: bool, spent: list | None = None):
    """The case as a call: each turn assessed as the engine does. Returns the gravest concern reached, the
    indices of the turns that escalated, and of those whose reply would ask directly (the screen unsure).
    `spent` collects each turn's assessment time in ms."""
    from dialogue.conversation import Conversation
    from dialogue.safety import ESCALATE, gravity

    spent = [] if spent is None else spent
    conv = Conversation()
    worst, alarms, asks = None, [], []
    for i, text in enumerate(case.turns):
        last = i == len(case.turns) - 1
        if i or case.agent_before(0):  # the agent's words where the case writes them, else a placeholder
            conv.add_assistant(case.agent_before(i) or "I hear you. Tell me more.")
        conv.add_user(text, voice=case.voice_cues() if (with_voice and last) else None)
        t0 = time.perf_counter()
        concern = policy.assess(conv)
        spent.append(1000 * (time.perf_counter() - t0))
        worst = concern if worst is None or gravity(concern) > gravity(worst) else worst
        if concern.level in ESCALATE:
            alarms.append(i)
        elif ask := policy.direct_question(conv, concern):
            asks.append(i)
            if not case.agent_before(i + 1):
                conv.add_assistant(ask)  # so that it is not counted again next turn
    return worst, alarms, asks


def evaluate(policy, cases, *, with_voice: bool) -> dict:
    from dialogue.safety import rank

    rows, spent = [], []
    for case in cases:
        got, alarms, asks = call(policy, case, with_voice=with_voice, spent=spent)
        rows.append({"id": case.id, "kind": case.kind or "-", "category": case.category, "turns": len(case.turns),
                     "alarms": alarms, "asks": asks, "crisis_from": case.crisis_from,
                     "voice": case.voice if with_voice else None,
                     "expected": case.expected(with_voice=with_voice), "level": got.level,
                     "got_category": got.category, "source": got.source, "reason": got.reason})
    # the whole screen's time per turn (the turn, and the last turns read together), one thread: what a reply waits
    return {**summarise(rows), "screen_ms": {"turns": len(spent), "p50_ms": round(float(np.percentile(spent, 50)), 1),
                                             "p90_ms": round(float(np.percentile(spent, 90)), 1)} if spent else None}


def summarise(rows: list[dict]) -> dict:
    from dialogue.safety import ESCALATE

    crisis = [r for r in rows if r["expected"] in ESCALATE]
    calm = [r for r in rows if r["expected"] == "none"]
    concern = [r for r in rows if r["expected"] == "concern"]
    caught = [r for r in crisis if r["level"] in ESCALATE]
    multi = [r for r in rows if r["turns"] > 1]
    per_cat = defaultdict(list)
    for r in crisis:
        per_cat[r["category"] or "unnamed"].append(r["level"] in ESCALATE)
    per_author = defaultdict(list)
    for r in rows:
        per_author[r["id"].split("-")[0] if "-" in r["id"] else "-"].append(r)
    per_kind = defaultdict(list)
    for r in rows:
        per_kind[(r["kind"], "crisis" if r["expected"] in ESCALATE else r["expected"])].append(
            r["level"] in ESCALATE)
    return {
        "cases": len(rows), "crisis_cases": len(crisis), "none_cases": len(calm), "concern_cases": len(concern),
        "recall": S.share([r["level"] in ESCALATE for r in crisis]),
        "false_alarm_rate": S.share([r["level"] in ESCALATE for r in calm]),
        # a call whose first alarming turn the caller then explains ("I want to end it." "The relationship, I
        # mean.") escalates at that turn, by design: these two leave such calls out, and count check-ins
        "false_alarm_rate_single_turn": S.share([r["level"] in ESCALATE for r in calm if r["turns"] == 1]),
        "false_alarm_rate_distress_and_idioms": S.share([r["level"] in ESCALATE for r in calm
                                                          if r["kind"] in DISTRESS_AND_IDIOMS]),
        "none_checked_in": S.share([r["level"] != "none" for r in calm]),
        # the reply would ask directly ("... Is that something you've been thinking about?"): a second chance for
        # a crisis the screen missed, and a heavy question for an ordinary line
        "none_asked_directly": S.share([bool(r["asks"]) for r in calm]),
        "missed_but_asked": S.share([bool(r["asks"]) for r in crisis if r["level"] not in ESCALATE]),
        "recall_or_asked": S.share([r["level"] in ESCALATE or bool(r["asks"]) for r in crisis]),
        "concern_escalated": S.share([r["level"] in ESCALATE for r in concern]),
        "concern_noticed": S.share([r["level"] != "none" for r in concern]),
        "level_accuracy": S.share([r["level"] == r["expected"] for r in rows]),
        "imminent_recall": S.share([r["level"] == "imminent" for r in crisis if r["expected"] == "imminent"]),
        "category_accuracy": S.share([r["got_category"] == r["category"] for r in caught if r["category"]]),
        "per_category_recall": {k: S.share(v) for k, v in sorted(per_cat.items())},
        "multi_turn": {"cases": len(multi),
                       "recall": S.share([r["level"] in ESCALATE for r in multi if r["expected"] in ESCALATE]),
                       "false_alarm_rate": S.share([r["level"] in ESCALATE for r in multi if r["expected"] == "none"])},
        "per_author": {k: {"cases": len(v),
                           "recall": S.share([r["level"] in ESCALATE for r in v if r["expected"] in ESCALATE]),
                           "false_alarm_rate": S.share([r["level"] in ESCALATE for r in v if r["expected"] == "none"]),
                           "false_alarm_rate_single_turn": S.share([r["level"] in ESCALATE for r in v
                                                                    if r["expected"] == "none" and r["turns"] == 1])}
                       for k, v in sorted(per_author.items())} if len(per_author) > 1 else {},
        "long_calls": _long_calls(rows),
        "per_kind": {f"{k} ({what})": {"n": len(v), "escalated": S.share(v)} for (k, what), v in sorted(per_kind.items())},
        "escalated_by": dict(Counter(r["source"] for r in rows if r["level"] in ESCALATE)),
        "misses": [r for r in crisis if r["level"] not in ESCALATE],
        "false_alarms": [r for r in calm if r["level"] in ESCALATE],
    }


def _long_calls(rows: list[dict]) -> dict | None:
    """Calls of LONG_CALL turns or more: how often an ordinary one escalates (per call and per 100 turns), and
    whether one that turns to crisis escalates at or after the turn it should (`crisis_from`), or before."""
    from dialogue.safety import ESCALATE

    long = [r for r in rows if r["turns"] >= LONG_CALL]
    if not long:
        return None
    calm = [r for r in long if r["expected"] == "none"]
    crisis = [r for r in long if r["expected"] in ESCALATE and r["crisis_from"] is not None]
    turns = sum(r["turns"] for r in calm)
    return {"calls": len(long), "ordinary_calls": len(calm), "ordinary_turns": turns,
            "ordinary_calls_escalated": S.share([bool(r["alarms"]) for r in calm]),
            "escalations_per_100_ordinary_turns": round(100 * sum(len(r["alarms"]) for r in calm) / turns, 2) if turns else None,
            "direct_questions_per_100_ordinary_turns": round(100 * sum(len(r["asks"]) for r in calm) / turns, 2) if turns else None,
            "crisis_calls": len(crisis),
            "crisis_caught_in_time": S.share([any(i >= r["crisis_from"] for i in r["alarms"]) for r in crisis]),
            "crisis_alarmed_early": S.share([any(i < r["crisis_from"] for i in r["alarms"]) for r in crisis])}


def run(args) -> dict:
    from dialogue.safety import cases as C

    parts = {"custom": [Path(args.cases)]} if args.cases else {k: part_files(k) for k in args.parts.split(",") if k}
    loaded = {name: [c for path in paths if path.exists() for c in C.load(path)] for name, paths in parts.items()}
    loaded = {name: cases for name, cases in loaded.items() if cases}
    if not loaded:
        return {"skipped": "no case files", "report_markdown": "# Safety\n\nskipped: no case files\n"}
    if args.quick:
        loaded = {k: v[::8] for k, v in loaded.items()}
    policies = screens(args.scorer, args.sensitivities, args.heads)
    if args.screens:
        unknown = set(args.screens.split(",")) - set(policies)
        if unknown:
            raise SystemExit(f"--screens: no screen {sorted(unknown)}; known: {sorted(policies)}")
        policies = {k: v for k, v in policies.items() if k in args.screens.split(",") or k == "scorer"}
    voices = [v == "on" for v in args.voices.split(",")]
    results = {}
    for part, cases in loaded.items():
        results[part] = {}
        for member, policy in policies.items():
            if args.screens and member not in args.screens.split(","):
                continue  # the scorer is kept only to measure its cost
            for with_voice in voices:
                if with_voice and not any(c.voice for c in cases):
                    continue
                if "(" in member and not with_voice and any(c.voice for c in cases):
                    continue  # another sensitivity: measured as a call would run, the voice on
                if member == DEAF and not any(c.asked for c in cases):
                    continue  # no questions written: the same as the default screen
                key = f"{member}, voice {'on' if with_voice else 'off'}"
                t0 = time.monotonic()
                results[part][key] = evaluate(policy, cases, with_voice=with_voice)
                print(f"safety: {part} ({len(cases)} cases), {key}: recall {results[part][key]['recall']}, "
                      f"false alarms {results[part][key]['false_alarm_rate']}, screen p50 "
                      f"{(results[part][key]['screen_ms'] or {}).get('p50_ms')} ms a turn ({time.monotonic() - t0:.0f} s)",
                      file=sys.stderr, flush=True)
    out = {"parts": {k: {"files": [p.name for p in parts[k]], "cases": len(v)} for k, v in loaded.items()},
           "results": results, "scorer_cost": scorer_cost(policies, loaded), "patterns_cost": patterns_cost(loaded),
           "quoted_part": QUOTED if QUOTED in results else next(iter(results))}
    if args.speech:
        from benchmarks import safety_speech

        spoken_cases = C.load(args.cases) if args.cases else (
            load_part(args.speech_part) if args.speech_part in PARTS or (SETS / f"{args.speech_part}.jsonl").exists()
            else C.load(args.speech_part))
        out["speech"] = safety_speech.run_voices(args, spoken_cases, args.speech.split(","))
    out["report_markdown"] = report(out)
    return out


def scorer_cost(policies: dict, loaded: dict, *, turns: int = 200) -> dict | None:
    """Milliseconds the scorer adds to one turn (both encoders, if it blends two), on one thread, over the first
    `turns` user turns of the parts: p50 and p90 (the machine's other work counts too)."""
    policy = policies.get("scorer")
    if policy is None:
        return None
    texts = [t for cases in loaded.values() for c in cases for t in c.turns][:turns]
    spent = []
    for text in texts:
        t0 = time.perf_counter()
        policy.scorer.score(text)
        spent.append(1000 * (time.perf_counter() - t0))
    return {"turns": len(spent), "p50_ms": round(float(np.percentile(spent, 50)), 1),
            "p90_ms": round(float(np.percentile(spent, 90)), 1), "encoders": 2 if policy.scorer.partner else 1}


def patterns_cost(loaded: dict, *, lengths: tuple[int, ...] = (500, 1000, 2000, 4000)) -> dict:
    """Milliseconds the patterns take on one turn of each length in characters (the parts' turns run together, as a
    caller who talks for minutes gives): their time must grow in step with the turn, since they hold the GIL."""
    from dialogue.safety import rules

    text = " ".join(t for cases in loaded.values() for c in cases for t in c.turns)
    while text and len(text) < max(lengths):
        text += " " + text
    out = {}
    for n in lengths:
        t0 = time.perf_counter()
        rules.match(text[:n])
        out[str(n)] = round(1000 * (time.perf_counter() - t0), 1)
    return out


def _headline(r: dict) -> list:
    return [r["recall"], r["false_alarm_rate"], r["false_alarm_rate_single_turn"],
            r.get("false_alarm_rate_distress_and_idioms"), r["none_checked_in"],
            r["none_asked_directly"], r["recall_or_asked"], r["level_accuracy"], r["imminent_recall"],
            r["category_accuracy"], r["concern_noticed"], r["multi_turn"]["recall"], r["multi_turn"]["false_alarm_rate"]]


def report(out: dict) -> str:
    md = ["# Safety: the crisis screen on words it was not tuned on", "",
          "Each figure names the part it comes from. **Quote `heldout`** (never tuned on) and confirm on "
          "`heldout_spoken`; `tune` is what the patterns and the scorer were fitted to, `dialogue` was written "
          "beside the first rules.", ""]
    head = ["part", "screen", "recall", "false alarms", "false alarms, one-turn",
            "false alarms, distress and idioms", "checked in (none)",
            "asked directly (none)", "escalated or asked (crisis)", "level acc.", "imminent recall", "category acc.",
            "concern noticed", "multi-turn recall", "multi-turn false alarms"]
    rows = []
    for part, res in out["results"].items():
        for key, r in res.items():
            rows.append([f"{part} ({out['parts'][part]['cases']})", key, *_headline(r)])
    md += [table(head, rows), ""]
    if cost := out.get("scorer_cost"):
        md += [f"The scorer's cost per turn, one thread, {cost['encoders']} encoder(s), {cost['turns']} turns: "
               f"p50 {cost['p50_ms']} ms, p90 {cost['p90_ms']} ms.", ""]
    if cost := out.get("patterns_cost"):
        md += ["The patterns on one long turn: " + ", ".join(f"{n} characters {ms} ms" for n, ms in cost.items()) + ".", ""]
    long = [[part, key, lc["ordinary_calls"], lc["ordinary_turns"], lc["ordinary_calls_escalated"],
             lc["escalations_per_100_ordinary_turns"], lc["direct_questions_per_100_ordinary_turns"], lc["crisis_calls"],
             lc["crisis_caught_in_time"], lc["crisis_alarmed_early"]]
            for part, res in out["results"].items() for key, r in res.items() if (lc := r.get("long_calls"))]
    if long:
        md += [f"## Long calls ({LONG_CALL} turns or more)", "",
               table(["part", "screen", "ordinary calls", "their turns", "ordinary calls escalated",
                      "escalations per 100 ordinary turns", "direct questions per 100 ordinary turns",
                      "calls turning to crisis", "caught at or after the turn", "escalated before it"], long), ""]
    by_author = [[part, key, author, a["cases"], a["recall"], a["false_alarm_rate"], a["false_alarm_rate_single_turn"]]
                 for part, res in out["results"].items() for key, r in res.items()
                 for author, a in r.get("per_author", {}).items()]
    if by_author:
        md += ["## Per author (a part's files, by the id's prefix)", "",
               table(["part", "screen", "author", "cases", "recall", "false alarms", "false alarms, one-turn"], by_author), ""]
    q = out["quoted_part"]
    best = out["results"][q].get("patterns+scorer, voice on") or next(iter(out["results"][q].values()))
    md += [f"## `{q}`, the default screen: per category", "",
           table(["category", "recall"], [[k, v] for k, v in best["per_category_recall"].items()]), "",
           f"## `{q}`, the default screen: per kind", "",
           table(["kind (expected)", "cases", "escalated"], [[k, v["n"], v["escalated"]] for k, v in best["per_kind"].items()]),
           ""]
    if "speech" in out:
        md += ["## Spoken through the server", "", out["speech"]["markdown"], ""]
    path = plot_path("safety")
    if path:
        _plot(out, path)
        md += [f"![recall and false alarms per part and screen]({path.name})", ""]
    return "\n".join(md)


def _plot(out: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = list(out["results"])
    cols = min(4, len(parts))
    rows = -(-len(parts) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.9 * rows), sharey=True, squeeze=False)
    for ax in axes.flat[len(parts):]:
        ax.set_visible(False)
    for ax, part in zip(axes.flat, parts):
        res = out["results"][part]
        keys = list(res)
        x = range(len(keys))
        ax.bar([i - 0.2 for i in x], [res[k]["recall"] or 0 for k in keys], 0.4, label="recall", color="#4a7")
        ax.bar([i + 0.2 for i in x], [res[k]["false_alarm_rate"] or 0 for k in keys], 0.4, label="false alarms",
               color="#c64")
        ax.set_xticks(list(x), [k.replace("patterns+scorer", "both").replace(" (", "\n(").replace(", ", "\n") for k in keys],
                      fontsize=6)
        ax.set_title(f"{part} ({out['parts'][part]['cases']} cases)", fontsize=9)
        ax.set_ylim(0, 1.05)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
