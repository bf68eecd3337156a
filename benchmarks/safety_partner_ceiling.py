"""Whether skipping the blend's second encoder ever changes a verdict: over every text the screen would read in
the parts named (each turn, and the last turns joined), MPNet's real crisis logit on the texts the scorer skips
it for. A skipped text whose logit is above the ceiling could have had another verdict; the count should be 0.

    python -m benchmarks.safety_partner_ceiling --parts heldout,final_m,longcall_b --json out.json
"""
from __future__ import annotations

import json
import time

import numpy as np


def texts_of(parts: list[str]) -> list[str]:
    from benchmarks.safety import load_part
    from dialogue.safety.screen import CONTEXT_TURNS

    texts = set()
    for part in parts:
        for case in load_part(part):
            turns = [t for t in case.turns if t]
            for i in range(len(turns)):
                texts.add(turns[i])
                if i:
                    texts.add(" ".join(turns[max(0, i - CONTEXT_TURNS + 1):i + 1]))
    return sorted(texts)


def check(parts: list[str], scorer_spec: str) -> dict:
    from dialogue.safety import RiskScorer
    from dialogue.safety.scorer import pieces

    scorer = RiskScorer.named(scorer_spec)
    if scorer.partner_moot_below is None:
        raise SystemExit(f"{scorer_spec}: no partner ceiling in its heads, so the partner always runs")
    texts, flat, owner = texts_of(parts), [], []
    for k, text in enumerate(texts):
        ps = pieces(text)
        flat += ps
        owner += [k] * len(ps)
    t0 = time.monotonic()
    own = scorer.logits(scorer.encoder.encode(flat, batch=32))["crisis"][:, 0]
    w, b = scorer.partner_w
    other = (scorer.partner.encode(flat, batch=32) @ w.T + b)[:, 0]
    own_max, other_max = np.full(len(texts), -np.inf), np.full(len(texts), -np.inf)
    np.maximum.at(own_max, np.array(owner), own)
    np.maximum.at(other_max, np.array(owner), other)
    skipped = own_max < scorer.partner_moot_below
    ceiling = float(scorer.blend["ceiling"])
    return {"parts": parts, "texts": len(texts), "skipped": int(skipped.sum()), "skipped_share": round(float(skipped.mean()), 4),
            "skipped_above_ceiling": int((skipped & (other_max > ceiling)).sum()), "partner_max": float(other_max.max()),
            "ceiling": ceiling, "moot_below": scorer.partner_moot_below, "seconds": round(time.monotonic() - t0)}


def main(argv: list[str] | None = None) -> None:
    from benchmarks.safety_corroborate import parts_cli, write

    args = parts_cli(__doc__, argv)
    result = check(args.parts.split(","), args.scorer)
    print(json.dumps(result))
    write(args.json, result)


if __name__ == "__main__":
    main()
