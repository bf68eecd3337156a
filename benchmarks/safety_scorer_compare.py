"""Two crisis scorers on the same unseen lines: a shipped scorer against a retrained one's out-of-fold scores,
on the tuning authors the shipped one never saw (both are then scores on words the model did not learn from).

    python -m dialogue.safety.train --folds 3 --oof-cache OOF.json --out NEW/risk_heads.json
    python -m benchmarks.safety_scorer_compare --oof-cache OOF.json --authors TJ,TK,TL,LG,LH

It prints each scorer's AUC (crises against hard negatives, and against the ordinary turns of long calls) and,
at each sensitivity, its threshold and what the scorer alone escalates there. Session 6 used it to decide not to
ship the scorer retrained on twelve authors (models/MODEL_CARD.md).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dialogue.safety.train import auc


def main(argv=None) -> int:
    from dialogue.safety import train as T
    from dialogue.safety.cases import load
    from dialogue.safety.scorer import HEADS, RiskScorer
    from server.models import resolve

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--oof-cache", required=True, help="the retrained scorer's out-of-fold scores (train.py --oof-cache)")
    ap.add_argument("--authors", required=True, help="id prefixes of the authors the shipped scorer never saw (TJ,TK)")
    ap.add_argument("--old-heads", default=str(HEADS), help="the shipped scorer's heads (default: the shipped ones)")
    args = ap.parse_args(argv)

    cases = [c for p in sorted(T.SETS.glob(T.TUNE.name)) for c in load(p)]
    cases += T.call_turns([c for p in sorted(T.SETS.glob(T.LONG_CALLS.name)) for c in load(p)])
    oof = json.loads(Path(args.oof_cache).read_text())
    if len(oof) != len(cases):
        sys.exit(f"{args.oof_cache} holds {len(oof)} scores for {len(cases)} cases: made from other tuning files")
    authors = set(args.authors.split(","))
    idx = [i for i, c in enumerate(cases) if c.id.split("-")[0] in authors]
    if not idx:
        sys.exit(f"no tuning lines by {sorted(authors)}")
    old = RiskScorer.load(resolve("minilm"), args.old_heads)
    old_scores = [T.scores_of(old, cases[i]) for i in idx]
    sub = [cases[i] for i in idx]
    every = T.Scored.of(cases, oof)
    old_points = json.loads(Path(args.old_heads).read_text())["operating_points"]
    print(f"{len(sub)} lines by {', '.join(sorted(authors))}")
    for name, scores, threshold in (
            ("shipped scorer", old_scores, lambda sens: old_points[sens]["crisis"]),
            ("retrained, out of fold", [oof[i] for i in idx],
             lambda sens: T.choose_thresholds(every, turn_ceiling=T.SENSITIVITY[sens])["crisis"])):
        s = T.Scored.of(sub, scores)
        print(f"{name}: AUC against hard negatives {auc(s.p[s.crisis], s.p[s.hard]):.3f}, "
              f"against ordinary call turns {auc(s.p[s.crisis], s.p[s.turn]):.3f}")
        for sens in T.SENSITIVITY:
            t = threshold(sens)
            print(f"  {sens}: threshold {t:.4f}; the scorer alone escalates {(s.p[s.crisis] >= t).mean():.3f} of crises, "
                  f"{(s.p[s.hard] >= t).mean():.3f} of hard negatives, {(s.p[s.turn] >= t).mean():.4f} of call turns")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
