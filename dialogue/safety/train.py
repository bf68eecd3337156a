"""Train the scorer's heads on the development set's tuning part, choose its thresholds from out-of-fold
scores, and write `models/risk_heads.json`.

    python -m dialogue.safety.train [--cases FILE.jsonl ...] [--out FILE]

Without --cases it reads the tuning part, every author's `benchmarks/safety_sets/tune_?.jsonl`.

Folds are grouped by author (each author's file is one fold, its lines' id prefix), so the thresholds are
chosen on words the heads never saw, as the held-out parts (other authors) will be. The crisis threshold
is the lowest whose out-of-fold false alarms on ordinary statements stay under FALSE_ALARM_CEILING: the
patterns carry recall, the scorer adds what it can hear with few false alarms. The held-out parts are
never read here.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from . import rules
from .cases import Case, load
from .risk import CATEGORIES, rank
from .scorer import HEADS, RiskScorer, SentenceEncoder, pieces

TUNE = Path(__file__).parents[2] / "benchmarks" / "safety_sets" / "tune_?.jsonl"
L2 = 1e-3
FALSE_ALARM_CEILING = 0.05  # the scorer alone, out of fold, on the `none` lines
CHECK_IN_CEILING = 0.20  # the share of `none` lines the concern head may mark for a gentle check-in


def text_of(case: Case) -> str:
    return " ".join(case.turns)


def fit_logistic(x: np.ndarray, y: np.ndarray, *, classes: int = 1, steps: int = 600, lr: float = 0.1):
    """Class-balanced (multinomial when classes > 1) logistic regression with L2, full-batch Adam."""
    n, d = x.shape
    k = classes
    w, b = np.zeros((k, d), np.float64), np.zeros(k, np.float64)
    if k == 1:
        pos = max(y.mean(), 1e-6)
        weight = np.where(y > 0.5, 0.5 / pos, 0.5 / max(1 - pos, 1e-6))
    else:
        counts = np.bincount(y, minlength=k).astype(float)
        weight = (n / (k * np.maximum(counts, 1)))[y]
    m = [np.zeros_like(w), np.zeros_like(b)]
    v = [np.zeros_like(w), np.zeros_like(b)]
    for t in range(1, steps + 1):
        z = x @ w.T + b
        if k == 1:
            p = 1 / (1 + np.exp(-z[:, 0]))
            g = ((p - y) * weight)[:, None]
        else:
            z = z - z.max(1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(1, keepdims=True)
            g = p.copy()
            g[np.arange(n), y] -= 1
            g *= weight[:, None]
        gw = g.T @ x / n + L2 * w
        gb = g.mean(0)
        for i, (param, grad) in enumerate(((w, gw), (b, gb))):
            m[i] = 0.9 * m[i] + 0.1 * grad
            v[i] = 0.999 * v[i] + 0.001 * grad ** 2
            param -= lr * (m[i] / (1 - 0.9 ** t)) / (np.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8)
    return w.astype(np.float32), b.astype(np.float32)


def fit_heads(emb: np.ndarray, cases: list[Case]) -> dict:
    lv = np.array([rank(c.level) for c in cases])
    heads = {}
    for name, y in (("crisis", lv >= 2), ("concern", lv >= 1)):
        w, b = fit_logistic(emb, y.astype(float))
        heads[name] = {"w": w.tolist(), "b": b.tolist()}
    crisis = lv >= 2
    w, b = fit_logistic(emb[crisis], (lv[crisis] == 3).astype(float))
    heads["imminent"] = {"w": w.tolist(), "b": b.tolist()}
    has = np.array([c.category is not None and c.level != "none" for c in cases])
    y = np.array([CATEGORIES.index(c.category) for c, h in zip(cases, has) if h])
    w, b = fit_logistic(emb[has], y, classes=len(CATEGORIES))
    heads["category"] = {"w": w.tolist(), "b": b.tolist()}
    return heads


def author_folds(cases: list[Case]) -> np.ndarray:
    """One fold per author (the id's prefix: TA-001 -> TA)."""
    authors = sorted({c.id.split("-")[0] for c in cases})
    if len(authors) < 2:
        raise ValueError("author folds need cases from two authors or more (ids like TA-001, TB-001)")
    return np.array([authors.index(c.id.split("-")[0]) for c in cases])


def out_of_fold(encoder: SentenceEncoder, cases: list[Case], whole: np.ndarray) -> list[dict]:
    """Each case scored by heads trained without its fold: crisis/concern/imminent probabilities and the
    category, over the turn's pieces as the screen scores them, with and without the voice bias of 0."""
    fold = author_folds(cases)
    parts = [pieces(text_of(c)) for c in cases]
    flat = [p for ps in parts for p in ps]
    emb_parts = encoder.encode(flat)
    offsets = np.cumsum([0] + [len(ps) for ps in parts])
    out: list[dict] = [{} for _ in cases]
    for f in range(fold.max() + 1):
        train = [i for i in range(len(cases)) if fold[i] != f]
        scorer = RiskScorer(encoder, {"heads": fit_heads(whole[train], [cases[i] for i in train]),
                                      "thresholds": {"crisis": 0.5, "concern": 0.5, "imminent": 0.5}})
        for i in np.where(fold == f)[0]:
            e = emb_parts[offsets[i]:offsets[i + 1]]
            z = scorer.logits(e)
            out[i] = {"crisis_logits": z["crisis"][:, 0].tolist(), "concern_logits": z["concern"][:, 0].tolist(),
                      "imminent_logits": z["imminent"][:, 0].tolist(), "category": z["category"].argmax(1).tolist()}
    return out


def choose_thresholds(cases: list[Case], oof: list[dict]) -> dict:
    """The lowest crisis and concern thresholds whose out-of-fold rates on the `none` lines stay under their
    ceilings; imminent at the balanced best. Also the out-of-fold figures with the patterns beside it."""
    sig = lambda z: 1 / (1 + np.exp(-np.asarray(z)))
    rule_level = np.array([max(rank(rules.match(t).level) for t in (text_of(c), *c.turns)) for c in cases])
    p = np.array([sig(o["crisis_logits"]).max() for o in oof])
    pc = np.array([sig(o["concern_logits"]).max() for o in oof])
    crisis = np.array([c.crisis for c in cases])
    none = np.array([c.level == "none" for c in cases])
    grid = np.round(np.arange(0.05, 1.0, 0.01), 2)
    crisis_t = next(float(t) for t in grid if (p[none] >= t).mean() <= FALSE_ALARM_CEILING)
    concern_t = next(float(t) for t in grid if (pc[none] >= t).mean() <= CHECK_IN_CEILING)
    pi = np.array([sig(o["imminent_logits"])[int(np.argmax(o["crisis_logits"]))] for o in oof])
    imm = np.array([c.level == "imminent" for c in cases])
    best, imminent_t = -1.0, 0.5
    for t in grid:
        acc = 0.5 * ((pi[crisis & imm] >= t).mean() + (pi[crisis & ~imm] < t).mean())
        if acc > best:
            best, imminent_t = acc, float(t)
    both = (p >= crisis_t) | (rule_level >= 2)
    noticed = both | (pc >= concern_t) | (rule_level >= 1)
    return {"crisis": crisis_t, "concern": concern_t, "imminent": imminent_t,
            "oof": {"recall": round(float(both[crisis].mean()), 3), "false_alarms": round(float(both[none].mean()), 3),
                    "patterns_alone_recall": round(float((rule_level >= 2)[crisis].mean()), 3),
                    "patterns_alone_false_alarms": round(float((rule_level >= 2)[none].mean()), 3),
                    "scorer_alone_recall": round(float((p >= crisis_t)[crisis].mean()), 3),
                    "scorer_alone_false_alarms": round(float((p >= crisis_t)[none].mean()), 3),
                    "crisis_noticed": round(float(noticed[crisis].mean()), 3),
                    "none_checked_in": round(float(noticed[none].mean()), 3),
                    "imminent_balanced_accuracy": round(best, 3)}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", action="append", help="JSONL case file(s) to tune on (default: the tune part)")
    ap.add_argument("--encoder", default="minilm", help="catalog name or sentence-transformers folder")
    ap.add_argument("--out", default=str(HEADS))
    ap.add_argument("--voice-bias", type=float, default=1.0, help="log-odds a distressed voice adds to a crisis")
    args = ap.parse_args(argv)
    from server.models import resolve

    t0 = time.monotonic()
    if not args.cases:
        args.cases = [str(p) for p in sorted(TUNE.parent.glob(TUNE.name))]
    cases = [c for path in args.cases for c in load(path)]
    print(f"{len(cases)} cases from {', '.join(args.cases)}; {sum(c.crisis for c in cases)} crises", flush=True)
    encoder = SentenceEncoder(resolve(args.encoder), threads=2)
    whole = encoder.encode([text_of(c) for c in cases])
    oof = out_of_fold(encoder, cases, whole)
    thresholds = choose_thresholds(cases, oof)
    print("out-of-fold (folds by author):", json.dumps(thresholds), flush=True)
    heads = {"encoder": "all-MiniLM-L6-v2 (mean-pooled, normalised)", "trained_on": [Path(p).name for p in args.cases],
             "cases": len(cases), "heads": fit_heads(whole, cases), "voice_bias": args.voice_bias,
             "thresholds": {k: v for k, v in thresholds.items() if k != "oof"}, "out_of_fold": thresholds["oof"]}
    Path(args.out).write_text(json.dumps(heads, separators=(",", ":")))
    print(f"wrote {args.out} ({Path(args.out).stat().st_size >> 10} KB) in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
