"""Train the probe (probe.py) beside shipped risk heads and write heads that include it.

    python -m dialogue.safety.train_probe --out FILE.json [--model qwen2.5-0.5b] [--states DIR]

The probe's crisis head is fitted on every tuning author's lines and on every third turn (alone and with the two
before it) of the long calls in PROBE_CALLS. Its `weight` and `centre` are chosen on the words the heads being
extended never saw (FRESH authors and PROBE_CALLS), with the probe's logits there out of fold by author: the pair
with the highest crisis recall at the heads' own crisis threshold whose false alarms on ordinary lines and on call
turns are each no higher than the heads' alone on the same lines. The held-out parts are never read here.
`--states DIR` keeps each file's states (`<file>.npz`): ~0.5 s a text on two cores.
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np

from .cases import Case, load
from .probe import PROMPT, StateReader, fit_probe
from .risk import rank
from .scorer import BLEND_HEADS, RiskScorer, _logit, pieces
from .train import auc
from .tuning import text_of

SETS = Path(__file__).parents[2] / "benchmarks" / "safety_sets"
FRESH = tuple(f"tune_{a}" for a in "nopqrst")  # written after the shipped blend was trained (session 7: a..m)
PROBE_CALLS = ("longcall_j", "longcall_o")  # the tuning long calls the shipped blend never saw
WEIGHTS = (0.25, 0.5, 0.75, 1.0, 1.5)
CENTRES = (0.5, 0.75, 0.9, 0.95, 0.99)  # quantiles of the probe's out-of-fold logits on ordinary lines


def lines_of(name: str) -> list[tuple[str, bool, str]]:
    """(text, crisis, kind) as the probe learns them: a line's turns joined, or a long call's sampled turns."""
    out = []
    for c in load(SETS / f"{name}.jsonl"):
        if len(c.turns) >= 8:
            end = len(c.turns) if c.level == "none" else (c.crisis_from or 0)
            for i in range(0, end, 3):
                out += [(c.turns[i], False, "call_turn"), (" ".join(c.turns[max(0, i - 2):i + 1]), False, "call_turn")]
        else:
            out.append((text_of(c), rank(c.level) >= 2, c.kind))
    return out


def states_of(name: str, texts: list[str], reader, cache: Path | None) -> np.ndarray:
    stored = {}
    if cache and (cache / f"{name}.npz").exists():
        with np.load(cache / f"{name}.npz", allow_pickle=True) as z:
            stored = dict(zip(z["texts"].tolist(), z["emb"]))
    missing = [t for t in dict.fromkeys(texts) if t not in stored]
    t0 = time.monotonic()
    for k, t in enumerate(missing):
        stored[t] = reader().state(t)
        if k % 200 == 0:
            print(f"{name}: {k}/{len(missing)} states, {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    if cache and missing:
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(cache / f"{name}.npz", texts=np.array(list(stored), dtype=object), emb=np.stack(list(stored.values())))
    return np.stack([stored[t] for t in texts])


def blend_logits(scorer: RiskScorer, texts: list[str]) -> np.ndarray:
    """The heads' crisis logit of each text, every member run (no voice)."""
    out = []
    for t in texts:
        parts = pieces(t)
        s = scorer.score_embeddings(scorer.encoder.encode(parts), parts,
                                    partner_emb=scorer.partner.encode(parts) if scorer.partner else None)
        out.append(_logit(s.crisis))
    return np.array(out)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--heads", default=str(BLEND_HEADS), help="the heads to extend (default: the shipped blend)")
    p.add_argument("--model", default="qwen2.5-0.5b")
    p.add_argument("--states", help="a folder keeping each file's states")
    args = p.parse_args(argv)
    from server.models import resolve

    names = sorted(f.stem for f in SETS.glob("tune_?.jsonl")) + list(PROBE_CALLS)
    cache = Path(args.states) if args.states else None

    @functools.cache
    def reader() -> StateReader:  # loaded only when a state is not in the cache
        return StateReader(resolve(args.model))

    rows = {n: lines_of(n) for n in names}
    x = {n: states_of(n, [t for t, _, _ in rows[n]], reader, cache) for n in names}
    y = {n: np.array([c for _, c, _ in rows[n]]) for n in names}

    fresh = [*FRESH, *PROBE_CALLS]
    oof = {}
    for n in fresh:
        others = [m for m in names if m != n]
        w, b = fit_probe(np.concatenate([x[m] for m in others]), np.concatenate([y[m] for m in others]))
        oof[n] = x[n] @ w + b
    probe = np.concatenate([oof[n] for n in fresh])
    crisis = np.concatenate([y[n] for n in fresh])
    turn = np.array([k == "call_turn" for n in fresh for _, _, k in rows[n]])
    ordinary = ~crisis & ~turn
    scorer = RiskScorer.load(resolve("minilm"), args.heads)
    blend = blend_logits(scorer, [t for n in fresh for t, _, _ in rows[n]])
    t = _logit(scorer.thresholds["crisis"])
    rate = lambda z, m: float((z[m] >= t).mean())
    base = {"recall": rate(blend, crisis), "false_alarms": rate(blend, ordinary), "call_turns": rate(blend, turn)}
    best, grid = None, []
    for weight in WEIGHTS:
        for q in CENTRES:
            centre = float(np.quantile(probe[ordinary | turn], q))
            z = blend + weight * (probe - centre)
            row = {"weight": weight, "centre_quantile": q, "centre": centre, "recall": rate(z, crisis),
                   "false_alarms": rate(z, ordinary), "call_turns": rate(z, turn)}
            grid.append(row)
            if row["false_alarms"] <= base["false_alarms"] and row["call_turns"] <= base["call_turns"] and \
                    (best is None or row["recall"] > best["recall"]):
                best = row
    figures = {"fresh": fresh, "lines": int(len(probe)), "crises": int(crisis.sum()),
               "auc_probe": auc(probe[crisis], probe[~crisis]), "auc_heads": auc(blend[crisis], blend[~crisis]),
               "heads_alone": base, "chosen": best, "grid": grid}
    print(json.dumps({k: v for k, v in figures.items() if k != "grid"}, indent=1))
    if best is None:
        sys.exit("no weight and centre keep the heads' false alarms: no probe written")
    w, b = fit_probe(np.concatenate([x[n] for n in names]), np.concatenate([y[n] for n in names]))
    seen = np.concatenate([x[n] for n in names]) @ w + b
    heads = json.loads(Path(args.heads).read_text())
    heads["probe"] = {"model": args.model, "prompt": PROMPT, "w": w.tolist(), "b": b, "weight": best["weight"],
                      "centre": best["centre"], "floor": float(seen.min()), "ceiling": float(seen.max()),
                      "trained_on": names, "out_of_fold": {k: v for k, v in figures.items() if k != "grid"}}
    out = Path(args.out)
    for name in (heads.get("tuned_layers"), heads.get("partner", {}).get("tuned_layers")):
        beside = out.with_name(name) if name else None
        if beside and not beside.exists():  # the heads name their tuned layers by file name, beside them
            beside.symlink_to(Path(args.heads).with_name(name).resolve())
    out.write_text(json.dumps(heads))
    Path(args.out).with_suffix(".grid.json").write_text(json.dumps(figures, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
