"""Plot several `warmline bench latency` results side by side (e.g. before and after a change, or two engines):

    python -m benchmarks.compare_latency OUT.png LABEL=latency.json [LABEL=latency.json ...]

Per concurrency level: first reply audio p50 and p95 on the caller's clock, and when the model's own first
clause came (server clock, after an opener); plus the one-session conversation's later turns."""
from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    out, runs = argv[0], [a.split("=", 1) for a in argv[1:]]
    data = [(label, json.load(open(path))) for label, path in runs]
    levels = sorted({int(n) for _, d in data for n in d["levels"]})
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    width = 0.8 / len(data)
    for i, (label, d) in enumerate(data):
        x = np.arange(len(levels)) + i * width
        lv = [d["levels"].get(str(n), {}) for n in levels]
        p50 = [(v.get("first_audio_ms") or {}).get("p50") or np.nan for v in lv]
        p95 = [(v.get("first_audio_ms") or {}).get("p95") or np.nan for v in lv]
        axes[0].bar(x, p50, width, label=f"{label} p50")
        axes[0].scatter(x, p95, marker="_", s=200, color="black")
        # without openers (older results) the first clause is the model's: its first audio on the server's clock
        model = [((v.get("model_clause_ms") or {}).get("p50") or (v.get("end_of_speech_to_first_audio_ms") or {}).get("p50")
                  or np.nan) for v in lv]
        axes[1].bar(x, model, width, label=label)
    for ax, title in zip(axes, ("first reply audio after the last word (p50 bars, p95 ticks)",
                                "the model's own first clause after the last word, p50")):
        ax.set_xticks(np.arange(len(levels)) + 0.4 - width / 2, [f"{n} session{'s' * (n > 1)}" for n in levels])
        ax.set(title=title, ylabel="ms")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    for label, d in data:
        later = d["conversation"]["later_turns_first_audio_ms"]
        print(f"{label}: conversation turns 2-5 first audio p50 {later['p50']} ms, p95 {later['p95']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
