"""How far a second reader agrees with a part's author: the same lines labelled again, blind (the author's labels,
kinds and notes hidden, the lines shuffled), by someone who read only the set's README, as the authors did.
It is the ceiling the issue's target is measured against: a screen cannot be held to a recall on labels that a
careful second reader does not reproduce.

    python -m benchmarks.safety_agreement [--reader benchmarks/safety_sets/second_reader/final_jm.jsonl] [--json F]

Figures, from the words (`level`) and with the voice (`level_with_voice`), per author's part: the second reader's
recall (author's elevated or imminent lines it escalates too), its false alarms (author's `none` lines it
escalates), its escalations of the author's concerns, and exact level agreement.
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from dialogue.safety.cases import load
from dialogue.safety.risk import rank

SETS = Path(__file__).with_name("safety_sets")
READERS = SETS / "second_reader"


def agreement(reader: Path) -> dict:
    labels = {r["id"]: r for r in map(json.loads, reader.read_text().splitlines())}
    authors = {}
    for path in sorted(SETS.glob("*.jsonl")):
        for case in load(path):
            if case.id in labels:
                authors[case.id] = (path.stem, case)
    missing = sorted(set(labels) - set(authors))
    if missing:
        raise SystemExit(f"{reader}: ids in no part: {missing[:5]}")
    out: dict = {}
    for field, with_voice in (("level", False), ("level_with_voice", True)):
        by_part = defaultdict(lambda: defaultdict(int))
        for i, (part, case) in authors.items():
            for key in (part, "all"):
                n = by_part[key]
                theirs, ours = rank(case.expected(with_voice=with_voice)), rank(labels[i][field])
                n["lines"] += 1
                n["crises"] += theirs >= 2
                n["caught"] += theirs >= 2 and ours >= 2
                n["none"] += theirs == 0
                n["false_alarms"] += theirs == 0 and ours >= 2
                n["concerns"] += theirs == 1
                n["concerns_escalated"] += theirs == 1 and ours >= 2
                n["same_level"] += theirs == ours
        out[field] = {part: {**n, "recall": round(n["caught"] / max(n["crises"], 1), 3),
                             "false_alarm_rate": round(n["false_alarms"] / max(n["none"], 1), 3),
                             "level_agreement": round(n["same_level"] / n["lines"], 3)} for part, n in by_part.items()}
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reader", default=str(READERS / "final_jm.jsonl"))
    p.add_argument("--json")
    args = p.parse_args(argv)
    out = agreement(Path(args.reader))
    for field, parts in out.items():
        for part, n in sorted(parts.items()):
            print(f"{field:17s} {part:8s} recall {n['caught']}/{n['crises']} = {n['recall']:.3f}  false alarms "
                  f"{n['false_alarms']}/{n['none']} = {n['false_alarm_rate']:.3f}  concerns escalated "
                  f"{n['concerns_escalated']}/{n['concerns']}  same level {n['level_agreement']:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
