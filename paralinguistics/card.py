"""Confusion-matrix plots and the figures tables of the model card, from `metrics.json`.

    python -m paralinguistics.card [--models paralinguistics/models]
Writes `confusion_<task>_<block>.png` and fills the results section of MODEL_CARD.md.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

PLOTS = [("emotion", "ravdess"), ("emotion", "emodb"), ("emotion", "tess"), ("events", "deeply_16"),
         ("gender", "all"), ("gender", "speech"), ("age", "all")]


def plot_confusion(block: dict, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.array(block["confusion"], dtype=float)
    norm = m / np.maximum(m.sum(1, keepdims=True), 1)
    names = block["labels"]
    size = 2.2 + 0.42 * len(names)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    for i in range(len(names)):
        for j in range(len(names)):
            if m[i, j]:
                ax.text(j, i, f"{norm[i, j]:.2f}".lstrip("0"), ha="center", va="center", fontsize=6,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title}\nbalanced accuracy {block['balanced_accuracy']:.3f} (n={block['n']})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def results_markdown(metrics: dict) -> str:
    lines = ["| task | test set | clean | telephone (8 kHz mu-law) | pink noise 10 dB SNR |", "|---|---|---|---|---|"]
    for task, m in metrics["tasks"].items():
        for block in m.get("clean", {}):
            if block in ("detection", "conversation", "speakers"):
                continue
            row = [f"{m[c][block]['balanced_accuracy']:.3f}" if block in m.get(c, {}) else "-"
                   for c in ("clean", "tel", "noise10")]
            lines.append(f"| {task} | {block} (n={m['clean'][block]['n']}) | " + " | ".join(row) + " |")
    lines.append("")
    lines.append("Balanced accuracy (mean per-class recall), speaker-independent 6-fold cross-validation.")
    lines.append("")
    for task, m in metrics["tasks"].items():
        lines.append(f"### {task}")
        lines.append(f"config `{json.dumps(m['config'])}`; temperature {m['temperature']}; expected calibration "
                     f"error on clean clips {m['ece_clean']['before']} before, {m['ece_clean']['after']} after.")
        if "offsets" in m:
            o = m["offsets"]
            without = ", ".join(f"{k} {v:.3f}" for k, v in o["balanced_accuracy_without"]["clean"].items())
            lines.append(f"Logit offsets {o['fitted']} (a prior correction fitted on the out-of-fold logits; the "
                         f"figures above apply offsets fitted on the other folds only). Without them (clean): {without}.")
        if "fusion" in m:
            f = m["fusion"]
            mean = ", ".join(f"{k} {v:.3f}" for k, v in f["balanced_accuracy_mean_fusion"]["clean"].items())
            lines.append(f"Stacked fusion: the members' logits weighted {f['weights']} plus class biases {f['bias']} "
                         "(a logistic regression on their out-of-fold logits, every corpus weighing the same; the "
                         f"figures above stack with weights fitted on the other folds only). Their plain mean instead "
                         f"(clean): {mean}.")
        for k, member in enumerate(m.get("members", [])):
            figures = ", ".join(f"{n} {v:.3f}" for n, v in member["clean"].items())
            role = " (kind only: it ranks classes 1.., leaving class 0, events' `none`, to the others)" \
                if member.get("kind_only") else ""
            lines.append(f"Member {k} of the ensemble alone{role} (clean, temperature {member['temperature']}): {figures}.")
        lines.append("")
        for block, b in m["clean"].items():
            if block == "speakers":
                row = " / ".join(f"{m[c][block]['mean']:.3f}" for c in ("clean", "tel", "noise10") if block in m.get(c, {}))
                worst = ", ".join(f"{k} {v:.2f}" for k, v in b["below"].items()) or "none"
                lines.append(f"- per held-out speaker (speech corpora, {b['n']} speakers), mean share of clips right, "
                             f"clean / telephone / noise: {row}; speakers under 0.9 (clean): {worst}")
                continue
            if block == "conversation":
                lines.append("- read over a conversation (random clips of one held-out speaker, speech corpora, "
                             "balanced by class; clean): " + ", ".join(f"after {k.replace('_', ' ').replace('1 turns', '1 turn')} {v:.3f}"
                                                                        for k, v in b.items()))
                continue
            if block == "detection":
                d = b
                lines.append(f"- event detection (clean): {d['event_recall']:.3f} of vocal-event clips get an event; "
                             f"{d['speech_false_event_rate']:.3f} of speech clips get a false one")
                by = d.get("false_event_rate_by_corpus")
                if by:
                    lines.append("- false events on speech by corpus (clean, argmax): "
                                 + ", ".join(f"{k} {v:.3f}" for k, v in by.items()))
                continue
            recall = ", ".join(f"{k} {v:.2f}" for k, v in b["recall"].items())
            lines.append(f"- {block}, per-class recall (clean): {recall}")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--models", default=str(Path(__file__).parent / "models"))
    a = p.parse_args(argv)
    folder = Path(a.models)
    metrics = json.loads((folder / "metrics.json").read_text())
    for task, block in PLOTS:
        b = metrics["tasks"].get(task, {}).get("clean", {}).get(block)
        if b:
            plot_confusion(b, f"{task}: {block} (held-out speakers, clean)", folder / f"confusion_{task}_{block}.png")
    card = folder / "MODEL_CARD.md"
    text = card.read_text() if card.exists() else "# Model card\n\n<!-- results -->\n<!-- /results -->\n"
    head, rest = text.split("<!-- results -->", 1)
    tail = rest.split("<!-- /results -->", 1)[1]
    card.write_text(f"{head}<!-- results -->\n{results_markdown(metrics)}\n<!-- /results -->{tail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
