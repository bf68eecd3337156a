"""What the reply asks directly about, where the screen is unsure: the categories in `SafetyPolicy(ask_about=)`
compared on the same parts. The screen's verdicts do not change, only which unsure turns get a direct question,
so each text is scored once and every variant replayed.

    python -m benchmarks.safety_ask --parts tune,longcall_tune --json out.json

Figures per part and variant, default screen with the voice on: recall and false alarms (which must not move),
crises escalated or asked, ordinary lines asked directly, and direct questions per 100 ordinary call turns.
"""
from __future__ import annotations

import sys
import time

VARIANTS = {"suicide,self_harm": ("suicide", "self_harm"),
            "all four": ("suicide", "self_harm", "harm_to_others", "abuse")}


def compare(parts: list[str], scorer_spec: str) -> dict:
    from benchmarks.safety import evaluate, load_part
    from benchmarks.safety_corroborate import _cached, figures
    from dialogue.safety import RiskScorer, SafetyPolicy

    scorer = _cached(RiskScorer.named(scorer_spec))
    out: dict = {}
    for part in parts:
        cases = load_part(part)
        out[part] = {}
        for name, categories in VARIANTS.items():
            t0 = time.monotonic()
            out[part][name] = row = figures(evaluate(SafetyPolicy(scorer=scorer, ask_about=categories), cases, with_voice=True))
            print(f"ask: {part} {name}: {row} ({time.monotonic() - t0:.0f} s)", file=sys.stderr, flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    from benchmarks.safety_corroborate import parts_cli, write

    args = parts_cli(__doc__, argv)
    write(args.json, {"scorer": args.scorer, "variants": {k: list(v) for k, v in VARIANTS.items()},
                      "results": compare(args.parts.split(","), args.scorer)})


if __name__ == "__main__":
    main()
