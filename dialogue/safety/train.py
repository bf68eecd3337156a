"""Train the scorer's heads on the development set's tuning part, choose its thresholds from out-of-fold
scores, and write `models/risk_heads.json`.

    python -m dialogue.safety.train [--cases FILE.jsonl ...] [--out FILE]

Without --cases it reads the tuning part, every author's `benchmarks/safety_sets/tune_?.jsonl`.

Folds are grouped by the kind of signal (every line of a kind falls in one fold), so the thresholds are
chosen on kinds the heads did not see: the closest the tuning part comes to words nobody wrote rules for.
The held-out parts are never read here.
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
FOLDS = 5
RECALL_FLOOR = 0.98  # the crisis threshold is the highest one that keeps out-of-fold recall here
CONCERN_FLOOR = 0.90


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


def kind_folds(cases: list[Case], folds: int = FOLDS) -> np.ndarray:
    kinds = sorted({c.kind or c.id for c in cases})
    order = {k: i % folds for i, k in enumerate(np.random.default_rng(0).permutation(kinds))}
    return np.array([order[c.kind or c.id] for c in cases])


def out_of_fold(encoder: SentenceEncoder, cases: list[Case], whole: np.ndarray) -> list[dict]:
    """Each case scored by heads trained without its fold: crisis/concern/imminent probabilities and the
    category, over the turn's pieces as the screen scores them, with and without the voice bias of 0."""
    fold = kind_folds(cases)
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


def choose_thresholds(cases: list[Case], oof: list[dict], *, voice_bias: float) -> dict:
    """The highest crisis threshold whose out-of-fold recall, with the patterns beside the scorer, stays at
    RECALL_FLOOR; the concern threshold likewise at CONCERN_FLOOR; imminent at the balanced best."""
    sig = lambda z: 1 / (1 + np.exp(-np.asarray(z)))
    rule_level = [max(rank(rules.match(t).level) for t in (text_of(c), *c.turns)) for c in cases]
    p = np.array([sig(o["crisis_logits"]).max() for o in oof])
    pc = np.array([sig(o["concern_logits"]).max() for o in oof])
    crisis = np.array([c.crisis for c in cases])
    caught_by_rules = np.array([lv >= 2 for lv in rule_level])
    grid = np.round(np.arange(0.05, 0.96, 0.01), 2)
    crisis_t = 0.05
    for t in grid:
        if ((p[crisis] >= t) | caught_by_rules[crisis]).mean() >= RECALL_FLOOR:
            crisis_t = float(t)
    worried = np.array([c.level != "none" for c in cases])
    concern_t = 0.05
    for t in grid:
        if ((pc[worried] >= t) | (p[worried] >= crisis_t)).mean() >= CONCERN_FLOOR:
            concern_t = float(t)
    pi = np.array([sig(o["imminent_logits"])[int(np.argmax(o["crisis_logits"]))] for o in oof])
    imm = np.array([c.level == "imminent" for c in cases])
    best, imminent_t = -1.0, 0.5
    for t in grid:
        sel = crisis
        acc = 0.5 * ((pi[sel & imm] >= t).mean() + (pi[sel & ~imm] < t).mean())
        if acc > best:
            best, imminent_t = acc, float(t)
    none = ~worried
    return {"crisis": crisis_t, "concern": concern_t, "imminent": imminent_t,
            "oof": {"recall": float(((p[crisis] >= crisis_t) | caught_by_rules[crisis]).mean()),
                    "false_alarms_on_none": float(((p[none] >= crisis_t) | caught_by_rules[none]).mean()),
                    "scorer_alone_recall": float((p[crisis] >= crisis_t).mean()),
                    "scorer_alone_false_alarms": float((p[none] >= crisis_t).mean()),
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
    thresholds = choose_thresholds(cases, oof, voice_bias=args.voice_bias)
    print("out-of-fold (folds by kind):", json.dumps(thresholds), flush=True)
    heads = {"encoder": "all-MiniLM-L6-v2 (mean-pooled, normalised)", "trained_on": [Path(p).name for p in args.cases],
             "cases": len(cases), "heads": fit_heads(whole, cases), "voice_bias": args.voice_bias,
             "thresholds": {k: v for k, v in thresholds.items() if k != "oof"}, "out_of_fold": thresholds["oof"]}
    Path(args.out).write_text(json.dumps(heads, separators=(",", ":")))
    print(f"wrote {args.out} ({Path(args.out).stat().st_size >> 10} KB) in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
