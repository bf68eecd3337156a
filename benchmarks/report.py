"""Small helpers every suite uses: percentiles, Markdown tables, where plots go."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def percentiles(values: list[float], digits: int = 1) -> dict:
    """n, p50, p95, mean, min, max of the values that are not None."""
    vals = [v for v in values if v is not None]
    if not vals:
        return {"n": 0, "p50": None, "p95": None, "mean": None}
    arr = np.asarray(vals, dtype=float)
    return {"n": len(vals), "p50": round(float(np.percentile(arr, 50)), digits),
            "p95": round(float(np.percentile(arr, 95)), digits), "mean": round(float(arr.mean()), digits),
            "min": round(float(arr.min()), digits), "max": round(float(arr.max()), digits)}


def table(header: list, rows: list[list]) -> str:
    def cell(v):
        return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) and abs(v) < 1 else str(v))
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def plot_path(name: str) -> Path | None:
    """Plots go to $WARMLINE_BENCH_DIR (default ./bench-results); None when plotting is switched off."""
    if os.environ.get("WARMLINE_NO_PLOTS"):
        return None
    folder = Path(os.environ.get("WARMLINE_BENCH_DIR", "bench-results"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.png"
