"""Train the scorer on the development set's tuning part: fine-tune the sentence encoder's top layers with a
crisis and a concern head, fit the imminent and category heads on its embeddings, choose the thresholds
from out-of-fold scores, and write `models/risk_heads.json` + `models/risk_encoder.npz`.

    python -m dialogue.safety.train [--cases FILE.jsonl ...] [--out FILE] [--epochs N] [--top-layers 3,4,5]
    python -m dialogue.safety.train --partner mpnet --out dialogue/safety/models/risk_heads_mpnet.json  # the blend

Without --cases it reads the tuning part, every author's `benchmarks/safety_sets/tune_?.jsonl`, and the long
calls written for tuning (`longcall_a`, `c`, `d`, `e`, `g`, `h`): each ordinary turn of those calls (and of a crisis call,
before its crisis starts), alone and with the two turns before it as the screen joins them, is an ordinary
line to learn from. A screen that hears twenty such turns a call must mark almost none.

Folds are grouped by author (each author's file is one fold, its lines' id prefix), so the thresholds are
chosen on words the encoder never saw, as the held-out parts (other authors) will be. The crisis threshold
is the lowest whose out-of-fold false alarms on ordinary statements stay under FALSE_ALARM_CEILING: the
patterns carry recall, the scorer adds what it can hear with few false alarms. The held-out parts are
never read here.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from . import partner, rules
from .cases import Case, load
from .risk import CATEGORIES, rank
from .scorer import HEADS, RiskScorer, SentenceEncoder, _sigmoid, pieces
from .tuning import text_of, tune_with_heads

SETS = Path(__file__).parents[2] / "benchmarks" / "safety_sets"
TUNE = SETS / "tune_?.jsonl"
LONG_CALLS = SETS / "longcall_[acdeghjo].jsonl"  # the tuning ones; `longcall_b`, `_f`, `_i`, `_k`... are held out
# The scorer alone, out of fold, on the ordinary turns of long calls (~20 a call): the share it may escalate. Each
# sensitivity is one such ceiling (a call of n ordinary turns escalates about 1 - (1 - c)^n of the time from the
# scorer); "balanced" is the default.
SENSITIVITY = {"quiet": 0.005, "balanced": 0.01, "sensitive": 0.02}
DEFAULT_SENSITIVITY = "balanced"
TURN_CHECK_IN_CEILING = 0.05  # and the check-ins on them
L2 = 1e-3
FALSE_ALARM_CEILING = 0.05  # the scorer alone, out of fold, on the `none` lines other than everyday talk
CHECK_IN_CEILING = 0.20  # the share of those lines the concern head may mark for a gentle check-in
TOP_LAYERS = (3, 4, 5)  # MiniLM's six layers: the top three are tuned (and shipped), the rest stay the package's
EPOCHS, LR = 6, 1e-4


def call_turns(calls: list[Case], *, window: int = 3) -> list[Case]:
    """A long call's ordinary turns as `none` lines of kind `call_turn`: each turn alone, and (as the screen reads
    the latest turns together) joined with the ones before it. A crisis call gives its turns before `crisis_from`."""
    out = []
    for call in calls:
        end = len(call.turns) if call.level == "none" else (call.crisis_from or 0)
        for i in range(end):
            out.append(Case(f"{call.id}.{i}", (call.turns[i],), "none", None, "call_turn"))
            if i >= 1 and i % 3 == 0:  # a third of the joined windows: enough to learn them, a third the cost
                out.append(Case(f"{call.id}.{i}w", call.turns[max(0, i - window + 1):i + 1], "none", None, "call_window"))
    return out


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


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """The chance a crisis scores above an ordinary line (ties count half)."""
    if not len(pos) or not len(neg):
        return float("nan")
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())


def finetune(path: str, cases: list[Case], *, top_layers=TOP_LAYERS, epochs: int = EPOCHS, lr: float = LR,
             seed: int = 0) -> tuple[SentenceEncoder, dict]:
    """A fresh encoder from `path` with its top layers tuned, beside a linear crisis and concern head on its
    mean-pooled output (`tuning.tune_with_heads`)."""
    import torch

    torch.manual_seed(seed)
    encoder = SentenceEncoder(path, threads=None, normalize=False)
    tuned = [p for n, p in encoder.model.named_parameters() if any(f"layer.{k}." in n for k in top_layers)]
    for p in encoder.model.parameters():
        p.requires_grad = False
    texts = [text_of(c) for c in cases]
    encoder.model.train()
    heads = tune_with_heads(lambda batch: encoder.pooled([texts[j] for j in batch]), tuned, encoder.dim, cases,
                            epochs=epochs, lr=lr, seed=seed)
    encoder.model.eval()
    return encoder, heads


def fit_heads(emb: np.ndarray, cases: list[Case], heads: dict) -> dict:
    """The imminent and category heads, fitted on the tuned encoder's embeddings, beside the tuned two."""
    lv = np.array([rank(c.level) for c in cases])
    crisis = lv >= 2
    w, b = fit_logistic(emb[crisis], (lv[crisis] == 3).astype(float))
    heads = {**heads, "imminent": {"w": w.tolist(), "b": b.tolist()}}
    has = np.array([c.category is not None and c.level != "none" for c in cases])
    y = np.array([CATEGORIES.index(c.category) for c, h in zip(cases, has) if h])
    w, b = fit_logistic(emb[has], y, classes=len(CATEGORIES))
    return {**heads, "category": {"w": w.tolist(), "b": b.tolist()}}


def train(path: str, cases: list[Case], **kw) -> tuple[SentenceEncoder, dict]:
    encoder, heads = finetune(path, cases, **kw)
    return encoder, fit_heads(encoder.encode([text_of(c) for c in cases]), cases, heads)


def author_folds(cases: list[Case], folds: int | None = None) -> np.ndarray:
    """One fold per author of single lines (the id's prefix: TA-001 -> TA), or `folds` folds of whole authors;
    each author of long calls (LA-01.3) shares a fold with authors of lines, so they add no training."""
    author = [c.id.split("-")[0] for c in cases]
    lines = sorted({a for a, c in zip(author, cases) if not c.kind.startswith("call_")})
    calls = sorted({a for a, c in zip(author, cases) if c.kind.startswith("call_")} - set(lines))
    if len(lines) < 2:
        raise ValueError("author folds need cases from two authors or more (ids like TA-001, TB-001)")
    n = min(folds or len(lines), len(lines))
    fold = {**{a: i % n for i, a in enumerate(lines)}, **{a: i % n for i, a in enumerate(calls)}}
    return np.array([fold[a] for a in author])


def scores_of(scorer: RiskScorer, case: Case) -> dict:
    """A case's head logits over its pieces, as the screen scores them (the out-of-fold cache's entries)."""
    z = scorer.logits(scorer.encoder.encode(pieces(text_of(case))))
    return {"crisis_logits": z["crisis"][:, 0].tolist(), "concern_logits": z["concern"][:, 0].tolist(),
            "imminent_logits": z["imminent"][:, 0].tolist(), "category": z["category"].argmax(1).tolist()}


def out_of_fold(path: str, cases: list[Case], progress=print, folds: int | None = None, **kw) -> list[dict]:
    """Each case scored, over its pieces as the screen scores them, by a scorer trained without its author."""
    fold = author_folds(cases, folds)
    out: list[dict] = [{} for _ in cases]
    for f in range(fold.max() + 1):
        t0 = time.monotonic()
        train_idx = [i for i in range(len(cases)) if fold[i] != f]
        encoder, heads = train(path, [cases[i] for i in train_idx], **kw)
        scorer = RiskScorer(encoder, {"heads": heads, "thresholds": {}})
        for i in np.where(fold == f)[0]:
            out[i] = scores_of(scorer, cases[i])
        progress(f"fold {f + 1}/{fold.max() + 1}: trained on {len(train_idx)} cases in {time.monotonic() - t0:.0f} s")
    return out


def _lowest_under(scores: np.ndarray, ceiling: float) -> float:
    """The lowest threshold t with mean(scores >= t) <= ceiling (a tuned encoder's scores crowd near 0 and 1,
    so no fixed grid will do)."""
    ranked = np.sort(scores)[::-1]
    k = int(np.floor(ceiling * len(ranked)))
    return float(np.nextafter(ranked[k], 1.0)) if k < len(ranked) else 0.0


def crisis_concern_voice(entries: list[dict], *, voice_bias: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per case (its gravest piece), from head logits as `scores_of` gives them: P(crisis), P(concern or more), and
    P(concern or more) under a distressed voice's bias."""
    gravest = lambda logits, bias=0.0: float(_sigmoid(np.asarray(logits) + bias).max())
    return (np.array([gravest(o["crisis_logits"]) for o in entries]), np.array([gravest(o["concern_logits"]) for o in entries]),
            np.array([gravest(o["concern_logits"], voice_bias) for o in entries]))


@dataclass(frozen=True)
class Scored:
    """The out-of-fold scores as probabilities, the patterns' levels, and the groups the ceilings hold on, worked
    out once for all the sensitivities and the plot."""
    p: np.ndarray  # P(crisis), the gravest piece
    pc: np.ndarray  # P(concern or more)
    pv: np.ndarray  # P(concern or more) under a distressed voice's bias
    pi: np.ndarray  # P(imminent | crisis) on the gravest piece
    rule_level: np.ndarray
    crisis: np.ndarray
    imminent: np.ndarray
    turn: np.ndarray  # a long call's ordinary turn, alone or joined
    everyday: np.ndarray  # everyday talk, and those turns
    hard: np.ndarray  # the hard negatives: `none` lines other than everyday talk

    @classmethod
    def of(cls, cases: list[Case], oof: list[dict], *, voice_bias: float = 1.0) -> "Scored":
        turn = np.array([c.kind.startswith("call_") for c in cases])
        everyday = np.array([c.kind == "everyday" for c in cases]) | turn
        p, pc, pv = crisis_concern_voice(oof, voice_bias=voice_bias)
        return cls(p=p, pc=pc, pv=pv,
                   pi=np.array([_sigmoid(np.asarray(o["imminent_logits"]))[int(np.argmax(o["crisis_logits"]))] for o in oof]),
                   rule_level=np.array([max(rank(rules.match(t).level) for t in (text_of(c), *c.turns)) for c in cases]),
                   crisis=np.array([c.crisis for c in cases]), imminent=np.array([c.level == "imminent" for c in cases]),
                   turn=turn, everyday=everyday, hard=np.array([c.level == "none" for c in cases]) & ~everyday)


def choose_thresholds(s: Scored, *, turn_ceiling: float = SENSITIVITY[DEFAULT_SENSITIVITY]) -> dict:
    """The lowest crisis and concern thresholds whose out-of-fold rates on the `none` lines stay under their
    ceilings; imminent at the balanced best. Also the out-of-fold figures with the patterns beside it."""
    p, pc, pv, pi, rule_level = s.p, s.pc, s.pv, s.pi, s.rule_level
    crisis, imm, turn, everyday, hard = s.crisis, s.imminent, s.turn, s.everyday, s.hard
    # the ceilings hold on the hard negatives: everyday talk would make them easy
    crisis_t, concern_t = _lowest_under(p[hard], FALSE_ALARM_CEILING), _lowest_under(pc[hard], CHECK_IN_CEILING)
    # A concern said in a distressed voice is a crisis (the sets' `level_with_voice`): the concern head, with the
    # voice's bias added, must then hold the crisis head's ceilings, as if every ordinary line were said so.
    voice_t = _lowest_under(pv[hard], FALSE_ALARM_CEILING)
    if turn.any():  # and a long call's ordinary turns, each alone and joined, stay almost all unmarked
        crisis_t = max(crisis_t, _lowest_under(p[turn], turn_ceiling))
        concern_t = max(concern_t, _lowest_under(pc[turn], TURN_CHECK_IN_CEILING))
        voice_t = max(voice_t, _lowest_under(pv[turn], turn_ceiling))
    grid = np.round(np.arange(0.05, 1.0, 0.01), 2)
    best, imminent_t = -1.0, 0.5
    for t in grid:
        acc = 0.5 * ((pi[crisis & imm] >= t).mean() + (pi[crisis & ~imm] < t).mean())
        if acc > best:
            best, imminent_t = acc, float(t)
    both = (p >= crisis_t) | (rule_level >= 2)
    noticed = both | (pc >= concern_t) | (rule_level >= 1)
    share = lambda x: round(float(x.mean()), 3)
    return {"crisis": crisis_t, "concern": concern_t, "imminent": imminent_t, "voice_raise": voice_t,
            "oof": {"recall": share(both[crisis]), "false_alarms": share(both[hard]),
                    "call_turn_false_alarms": share(both[turn]) if turn.any() else None,
                    "call_turn_scorer_alone_false_alarms": share((p >= crisis_t)[turn]) if turn.any() else None,
                    "call_turn_checked_in": share(noticed[turn]) if turn.any() else None,
                    "everyday_false_alarms": share(both[everyday]) if everyday.any() else None,
                    "everyday_checked_in": share(noticed[everyday]) if everyday.any() else None,
                    "patterns_alone_recall": share((rule_level >= 2)[crisis]),
                    "patterns_alone_false_alarms": share((rule_level >= 2)[hard]),
                    "scorer_alone_recall": share((p >= crisis_t)[crisis]),
                    "scorer_alone_false_alarms": share((p >= crisis_t)[hard]),
                    "crisis_noticed": share(noticed[crisis]), "none_checked_in": share(noticed[hard]),
                    "imminent_balanced_accuracy": round(best, 3)}}


def calibrated(points: dict, p: np.ndarray, pc: np.ndarray, pv: np.ndarray) -> dict:
    """Each sensitivity's thresholds set again on the trained model's own scores (P(crisis), P(concern), P(concern)
    under the voice's bias) over ordinary call turns no training read, instead of the fold models' (the final model,
    trained on all the data, need not score ordinary talk as they did). The hard-negative thresholds of `points`
    (chosen with no call turns) stay a floor."""
    out = {}
    for name, t in points.items():
        crisis = max(t["crisis"], _lowest_under(p, SENSITIVITY[name]))
        out[name] = {**t, "crisis": crisis, "concern": max(t["concern"], _lowest_under(pc, TURN_CHECK_IN_CEILING)),
                     "voice_raise": max(t["voice_raise"], _lowest_under(pv, SENSITIVITY[name])),
                     "calibration": {"turns": int(len(p)), "scorer_alone_false_alarms": round(float((p >= crisis).mean()), 4)}}
    return out


def plot_operating_points(s: Scored, points: dict, path: str) -> None:
    """The scorer alone, out of fold: crisis recall against the share of long calls' ordinary turns it escalates
    (and of the hard negatives), with each sensitivity marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p, crisis, turn, hard = s.p, s.crisis, s.turn, s.hard
    grid = np.unique(np.quantile(p[turn], np.linspace(0.9, 1.0, 200)))
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot([(p[turn] >= t).mean() for t in grid], [(p[crisis] >= t).mean() for t in grid], color="#4a7",
            label="crisis recall vs ordinary call turns escalated")
    ax.plot([(p[hard] >= t).mean() for t in grid], [(p[crisis] >= t).mean() for t in grid], color="#c64", ls="--",
            label="crisis recall vs hard negatives escalated")
    for name, t in points.items():
        x = (p[turn] >= t["crisis"]).mean()
        ax.plot([x], [(p[crisis] >= t["crisis"]).mean()], "ko")
        ax.annotate(name, (x, (p[crisis] >= t["crisis"]).mean()), textcoords="offset points", xytext=(5, -12), fontsize=8)
    ax.set_xlim(0, 0.15)
    ax.set_xlabel("share escalated (out of fold)")
    ax.set_ylabel("crisis recall, the scorer alone (out of fold)")
    ax.set_title(f"The scorer's operating points ({crisis.sum()} crises, {turn.sum()} ordinary call turns)", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", action="append", help="JSONL case file(s) to tune on (default: the tune part)")
    ap.add_argument("--calls", action="append", help="JSONL long calls whose ordinary turns to tune on "
                    "(default with the tune part: longcall_a, c, d, e, g, h, j)")
    ap.add_argument("--encoder", default="minilm", help="catalog name or sentence-transformers folder")
    ap.add_argument("--out", default=str(HEADS), help="the heads file; the tuned layers go beside it")
    ap.add_argument("--voice-bias", type=float, default=1.0, help="log-odds a distressed voice adds to a crisis")
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--folds", type=int, help="out-of-fold folds of whole authors (default: one per author)")
    ap.add_argument("--top-layers", default=",".join(map(str, TOP_LAYERS)), help="the encoder layers to tune")
    ap.add_argument("--oof-cache", help="keep the out-of-fold scores here and reuse them (same cases and settings)")
    ap.add_argument("--plot", help="draw the scorer's out-of-fold operating points here (PNG)")
    ap.add_argument("--thresholds-only", action="store_true",
                    help="with --oof-cache: only choose the thresholds again and write them into the heads at --out")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (1 is faster on a busy machine)")
    ap.add_argument("--partner", default="none", help="a second encoder whose crisis logit is blended in: mpnet "
                    "(with --out .../risk_heads_mpnet.json, the default blend) or none")
    ap.add_argument("--partner-top-layers", default="11", help="the partner's layers to tune (its top ones)")
    ap.add_argument("--partner-oof-cache", help="keep the partner's out-of-fold scores here and reuse them")
    ap.add_argument("--calibration-calls", action="append",
                    help="with --thresholds-only: long calls no training read (ordinary only); the crisis, check-in and "
                         "voice thresholds are set on the model's own scores over their turns, not the folds'")
    args = ap.parse_args(argv)
    from server.models import resolve

    import torch

    torch.set_num_threads(args.threads)
    t0 = time.monotonic()
    if not args.cases:
        args.cases = [str(p) for p in sorted(TUNE.parent.glob(TUNE.name))]
        args.calls = args.calls or [str(p) for p in sorted(SETS.glob(LONG_CALLS.name))]
    cases = [c for path in args.cases for c in load(path)]
    cases += call_turns([c for path in args.calls or [] for c in load(path)])
    print(f"{len(cases)} cases from {', '.join(args.cases)}; {sum(c.crisis for c in cases)} crises", flush=True)
    path = resolve(args.encoder)
    kw = {"top_layers": tuple(int(k) for k in args.top_layers.split(",")), "epochs": args.epochs}
    cache = Path(args.oof_cache) if args.oof_cache else None
    if args.thresholds_only and (cache is None or not cache.exists() or not Path(args.out).exists()):
        ap.error("--thresholds-only needs --oof-cache with the scores and the heads at --out")
    if cache is not None and cache.exists():
        oof = json.loads(cache.read_text())
        if len(oof) != len(cases):
            ap.error(f"{cache} holds {len(oof)} scores for {len(cases)} cases: made from other tuning files")
    else:
        oof = out_of_fold(path, cases, progress=lambda m: print(m, flush=True), folds=args.folds, **kw)
        if cache is not None:
            cache.write_text(json.dumps(oof))
    scored = Scored.of(cases, oof, voice_bias=args.voice_bias)
    blend = None
    if args.partner != "none":
        partner_path = resolve(args.partner)
        partner_kw = {"top_layers": tuple(int(k) for k in args.partner_top_layers.split(",")), "epochs": args.epochs}
        pcache = Path(args.partner_oof_cache) if args.partner_oof_cache else None
        if pcache is not None and pcache.exists():
            partner_oof = json.loads(pcache.read_text())
            if len(partner_oof) != len(cases):
                ap.error(f"{pcache} holds {len(partner_oof)} scores for {len(cases)} cases: made from other tuning files")
        else:
            partner_oof = partner.out_of_fold(partner_path, cases, author_folds(cases, args.folds),
                                              progress=lambda m: print(m, flush=True), **partner_kw)
            if pcache is not None:
                pcache.write_text(json.dumps(partner_oof))
        own = np.array([max(o["crisis_logits"]) for o in oof])
        other = np.array([max(z) for z in partner_oof])
        blend = partner.blend_params(own, other, scored.hard | scored.turn)
        scored = replace(scored, p=1 / (1 + np.exp(-partner.blended(own, other, blend))))  # the blend's P(crisis)
        print(f"blended with {args.partner}: {json.dumps(blend)}", flush=True)
    points = {name: choose_thresholds(scored, turn_ceiling=c) for name, c in SENSITIVITY.items()}
    thresholds = points[DEFAULT_SENSITIVITY]
    for name, t in points.items():
        print(f"out-of-fold, {name} (folds by author):", json.dumps(t), flush=True)
    if args.plot:
        plot_operating_points(scored, points, args.plot)
    operating = {name: {k: v for k, v in t.items() if k != "oof"} | {"out_of_fold": t["oof"]} for name, t in points.items()}
    out = Path(args.out)
    if args.thresholds_only:  # new thresholds for the heads already at --out, from the cached out-of-fold scores
        heads = json.loads(out.read_text())
        if args.calibration_calls:
            if blend is not None:
                ap.error("--calibration-calls calibrates the MiniLM scorer alone")
            turns = call_turns([c for f in args.calibration_calls for c in load(f)])
            scorer = RiskScorer.named(args.encoder, heads=out)
            z = [scores_of(scorer, c) for c in turns]
            p_cal, pc_cal, pv_cal = crisis_concern_voice(z, voice_bias=args.voice_bias)
            floor = {name: choose_thresholds(replace(scored, turn=np.zeros_like(scored.turn)), turn_ceiling=c)
                     for name, c in SENSITIVITY.items()}
            before = heads.get("operating_points", {})  # the folds' figures stay: they describe the fold models
            points = {name: {**t, "oof": before.get(name, {}).get("out_of_fold", heads.get("out_of_fold"))}
                      for name, t in calibrated(floor, p_cal, pc_cal, pv_cal).items()}
            thresholds = points[DEFAULT_SENSITIVITY]
            operating = {name: {k: v for k, v in t.items() if k != "oof"} | {"out_of_fold": t["oof"]} for name, t in points.items()}
            for name, t in points.items():
                print(f"calibrated on {len(turns)} call turns, {name}:", json.dumps({k: v for k, v in t.items() if k != "oof"}), flush=True)
            heads["calibrated_on"] = [Path(f).name for f in args.calibration_calls]
        heads.update(thresholds={k: v for k, v in thresholds.items() if k != "oof"}, out_of_fold=thresholds["oof"],
                     operating_points=operating, sensitivity=DEFAULT_SENSITIVITY)
        if blend is None and heads.get("partner"):
            ap.error(f"the heads at {out} blend {heads['partner']['encoder']}: pass --partner {heads['partner']['encoder']}")
        elif blend is not None and heads.get("partner"):
            heads["partner"].update(blend)
        elif blend is not None:
            ap.error("--thresholds-only with a partner needs heads at --out that were trained with one")
        out.write_text(json.dumps(heads, separators=(",", ":")))
        print(f"rewrote the thresholds in {out}")
        return 0
    encoder, heads = train(path, cases, **kw)
    layers = out.with_name(out.stem.replace("heads", "encoder") + ".npz")
    np.savez_compressed(layers, **{n: p.detach().numpy().astype(np.float16) for n, p in encoder.model.named_parameters()
                                   if any(f"layer.{k}." in n for k in kw["top_layers"])})
    partner_heads = None
    if blend is not None:
        tuned, p_heads, ceiling = partner.train(partner_path, cases, **partner_kw)
        p_layers = out.with_name(out.stem.replace("heads", "partner") + ".npz")
        np.savez_compressed(p_layers, **tuned)
        partner_heads = {"encoder": args.partner, "tuned_layers": p_layers.name, "normalize": False,
                         "top_layers": list(partner_kw["top_layers"]), "heads": p_heads, "ceiling": ceiling, **blend}
    out.write_text(json.dumps({
        "encoder": "all-MiniLM-L6-v2, mean-pooled, top layers fine-tuned", "tuned_layers": layers.name,
        "normalize": False, "trained_on": [Path(p).name for p in [*args.cases, *(args.calls or [])]], "cases": len(cases),
        "epochs": args.epochs, "top_layers": list(kw["top_layers"]), "heads": heads, "voice_bias": args.voice_bias,
        "thresholds": {k: v for k, v in thresholds.items() if k != "oof"}, "out_of_fold": thresholds["oof"],
        "operating_points": operating, "sensitivity": DEFAULT_SENSITIVITY,
        **({"partner": partner_heads} if partner_heads else {})},
        separators=(",", ":")))
    print(f"wrote {out} ({out.stat().st_size >> 10} KB) and {layers.name} ({layers.stat().st_size >> 10} KB) "
          f"in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
