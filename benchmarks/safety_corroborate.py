"""Sweep one screen setting: a pattern's *elevated* verdict kept only where the scorer agrees (its crisis
probability >= c); below c the turn is a concern and the reply asks directly. Each text is scored once (the
scorer's verdict does not depend on c) and the screen replayed for every c, so a sweep costs one bench run.

    python -m benchmarks.safety_corroborate --parts tune,longcall_tune --values off,0.05,0.1 --json out.json

Figures per part and c, default screen with the voice on: recall, false alarms, recall or asked, and for long
calls the ordinary calls escalated.
"""
from __future__ import annotations

import argparse
import json
import sys
import time


def _cached(scorer):
    seen: dict = {}
    score = scorer.score

    def cached(text: str, *, distressed: bool = False):
        key = (text, distressed)
        if key not in seen:
            seen[key] = score(text, distressed=distressed)
        return seen[key]

    scorer.score = cached
    return scorer


def figures(r: dict) -> dict:
    """The figures a variant is judged on, from one `evaluate` result."""
    row = {k: r.get(k) for k in ("cases", "recall", "false_alarm_rate", "recall_or_asked", "none_checked_in",
                                 "none_asked_directly")}
    if lc := r.get("long_calls"):
        row.update(ordinary_calls=lc["ordinary_calls"],
                   ordinary_calls_escalated=round(lc["ordinary_calls_escalated"] * lc["ordinary_calls"]),
                   crisis_caught_in_time=lc["crisis_caught_in_time"],
                   direct_questions_per_100_ordinary_turns=lc["direct_questions_per_100_ordinary_turns"])
    return row


def sweep(parts: list[str], values: list[float | None], scorer_spec: str) -> dict:
    from benchmarks.safety import evaluate, load_part
    from dialogue.safety import RiskScorer, SafetyPolicy

    scorer = _cached(RiskScorer.named(scorer_spec))
    out: dict = {}
    for part in parts:
        cases = load_part(part)
        out[part] = {}
        for c in values:
            t0 = time.monotonic()
            policy = SafetyPolicy(scorer=scorer)
            policy.screen.corroborate_below = c
            row = figures(evaluate(policy, cases, with_voice=True))
            out[part]["off" if c is None else str(c)] = row
            print(f"corroborate: {part} c={c}: {row} ({time.monotonic() - t0:.0f} s)", file=sys.stderr, flush=True)
    return out


def parts_cli(doc: str, argv: list[str] | None, **more: dict) -> argparse.Namespace:
    """The arguments these part-by-part safety sweeps share (--parts, --scorer, --json), and `more` of their own."""
    from dialogue.safety.scorer import DEFAULT_SCORER

    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--parts", required=True, help="comma-separated parts or files (as `warmline bench safety`)")
    for flag, kw in more.items():
        ap.add_argument(flag, **kw)
    ap.add_argument("--scorer", default=DEFAULT_SCORER)
    ap.add_argument("--json", required=True)
    return ap.parse_args(argv)


def write(path: str, result: dict) -> None:
    with open(path, "w") as f:
        json.dump(result, f, indent=1)


def main(argv: list[str] | None = None) -> None:
    args = parts_cli(__doc__, argv, **{"--values": {"default": "off,0.02,0.05,0.1,0.2,0.3,0.5",
                                                    "help": "c values; off = the screen as shipped"}})
    values = [None if v == "off" else float(v) for v in args.values.split(",")]
    write(args.json, {"scorer": args.scorer, "results": sweep(args.parts.split(","), values, args.scorer)})


if __name__ == "__main__":
    main()
