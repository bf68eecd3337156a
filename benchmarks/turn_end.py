"""`warmline bench turn_end`: the end-of-turn rule (server/endpointing.py) on transcripts it was not written
on. Each line of `turn_end_sets/` is what the recogniser heard when a speaker paused, labelled by whether they
had finished. A finished turn judged unfinished waits the long silence before it is answered; an unfinished one
judged finished is answered while the speaker meant to go on. Part a is what the rule was tuned on; part b
was written by another author and only read for figures."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from benchmarks.report import table
from server.endpointing import Endpointer, completeness

SETS = Path(__file__).resolve().parent / "turn_end_sets"
PARTS = {"a": "tune", "b": "held out"}


def add_arguments(p) -> None:
    p.add_argument("--part", choices=[*PARTS, "all"], default="all", help="which part to score (default: both)")


def score(rows: list[dict], endpointer: Endpointer) -> dict:
    waits = {"complete": endpointer.complete_ms, "unknown": endpointer.unknown_ms, "incomplete": endpointer.incomplete_ms}
    finished = [r for r in rows if r["label"] == "complete"]
    unfinished = [r for r in rows if r["label"] == "incomplete"]
    judged = {id(r): completeness(r["text"]) for r in rows}
    by_kind = {}
    for kind in sorted({r["kind"] for r in rows}):
        of_kind = [r for r in rows if r["kind"] == kind]
        by_kind[kind] = {"lines": len(of_kind), "agree": sum(
            (judged[id(r)] == "incomplete") == (r["label"] == "incomplete") for r in of_kind)}
    return {
        "lines": len(rows),
        "finished_made_to_wait_long": _share(sum(judged[id(r)] == "incomplete" for r in finished), len(finished)),
        "finished_mean_wait_ms": round(sum(waits[judged[id(r)]] for r in finished) / max(len(finished), 1)),
        "unfinished_answered_at_short_wait": _share(sum(judged[id(r)] == "complete" for r in unfinished), len(unfinished)),
        "unfinished_answered_at_middle_wait": _share(sum(judged[id(r)] == "unknown" for r in unfinished), len(unfinished)),
        "judged": {f"{label} -> {j}": n for (label, j), n in sorted(Counter(
            (r["label"], judged[id(r)]) for r in rows).items())},
        "by_kind": by_kind,
    }


def _share(n: int, of: int) -> dict:
    return {"n": n, "of": of, "rate": round(n / of, 3) if of else None}


def run(args) -> dict:
    endpointer = Endpointer()
    parts = list(PARTS) if args.part == "all" else [args.part]
    results = {"waits_ms": {"short": endpointer.complete_ms, "middle": endpointer.unknown_ms,
                            "long": endpointer.incomplete_ms}, "parts": {}}
    for part in parts:
        rows = [json.loads(line) for line in (SETS / f"part_{part}.jsonl").read_text().splitlines() if line.strip()]
        if args.quick:
            rows = rows[::8]
        results["parts"][part] = {"role": PARTS[part], **score(rows, endpointer)}
    results["report_markdown"] = _report(results)
    return results


def _report(results: dict) -> str:
    w = results["waits_ms"]
    rows = [[f"{p} ({r['role']})", r["lines"], _pct(r["finished_made_to_wait_long"]), r["finished_mean_wait_ms"],
             _pct(r["unfinished_answered_at_short_wait"]), _pct(r["unfinished_answered_at_middle_wait"])]
            for p, r in results["parts"].items()]
    return "\n".join([
        "# End of turn: the completeness rule on transcripts", "",
        f"Silence before answering: {w['short']} ms when the words sound finished, {w['middle']} ms when they "
        f"probably are (or give no hint), {w['long']} ms when they trail off.", "",
        table(["part", "lines", f"finished turns made to wait {w['long']} ms", "finished turns: mean wait (ms)",
               f"unfinished turns answered after {w['short']} ms", f"... after {w['middle']} ms"], rows), ""]) + "\n"


def _pct(share: dict) -> str:
    return f"{share['n']}/{share['of']} ({share['rate']:.1%})" if share["of"] else "-"
