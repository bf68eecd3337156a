"""Small classification heads over pooled encoder states + prosody; numpy at run time, torch for training.

A head is: standardise -> [attention pooling over frames] -> optional hidden layer -> logits / T. Its
input is the mean+std of the encoder hidden states it names (`layers`: indices into (layers + 1, frames,
dim), 0 the input embedding, -1 the output) followed by the prosodic features, for a head with `speaker`
set the turn's speaker embedding (`speaker.py`), and for one with `frame_stats` set the maximum and 90th
percentile over the output layer's frames (`features.frame_stats`).
Heads that share a task are an ensemble: their logits are averaged (`ensemble_predict`). A member marked
`kind_only` says which of classes 1.. it is, never whether it is class 0 (events: which sound, not whether
there is one): class 0's probability comes from the other members alone (`fuse`).
Weights live in one npz (float16 matrices) with a JSON description beside it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1 + np.tanh(0.7978845608 * (x + 0.044715 * x ** 3)))


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@dataclass
class Head:
    task: str
    labels: tuple[str, ...]
    params: dict[str, np.ndarray]
    temperature: float = 1.0
    attention: bool = False
    layers: tuple[int, ...] = (-1,)
    speaker: bool = False
    frame_stats: bool = False
    kind_only: bool = False

    def logits(self, pooled: np.ndarray, prosody: np.ndarray, frames: np.ndarray | None = None,
               speaker: np.ndarray | None = None, stats: np.ndarray | None = None) -> np.ndarray:
        """`stats`: `features.frame_stats(frames)`, when the caller has it already."""
        if self.speaker and speaker is None:
            raise ValueError(f"head {self.task!r} needs the speaker embedding")
        if self.frame_stats and stats is None:
            if frames is None or len(frames) == 0:
                raise ValueError(f"head {self.task!r} needs encoder frames")
            from .features import frame_stats

            stats = frame_stats(frames)
        x = np.concatenate([pooled, prosody] + ([speaker] if self.speaker else [])
                           + ([stats] if self.frame_stats else []))
        return self.logits_of(x, frames)

    def logits_of(self, x: np.ndarray, frames: np.ndarray | None = None) -> np.ndarray:
        """Logits of an input row already laid out as `logits` lays it out (what training stacks)."""
        p = self.params
        x = (np.asarray(x, np.float32) - p["mean"]) / p["scale"]
        if self.attention:
            if frames is None or len(frames) == 0:
                raise ValueError(f"head {self.task!r} needs encoder frames")
            f = (np.asarray(frames, np.float32) - p["fmean"]) / p["fscale"]
            w = softmax((np.tanh(f @ p["att_w1"] + p["att_b1"]) @ p["att_w2"]).ravel())
            x = np.concatenate([x, w @ f])
        if "w1" in p:
            x = _gelu(x @ p["w1"] + p["b1"])
        return (x @ p["w2"] + p["b2"]) / self.temperature

    def predict(self, pooled, prosody, frames=None, speaker=None) -> np.ndarray:
        return softmax(self.logits(pooled, prosody, frames, speaker))


def fuse(logits: list[np.ndarray], kind_only: list[bool] | None = None) -> np.ndarray:
    """Members' logits (each (..., classes)) -> the task's distribution: softmax of their mean, except that
    when some members are `kind_only`, class 0 gets the probability the others give it and the rest is shared
    among classes 1.. as the mean of every member says."""
    flags = list(kind_only) if kind_only is not None else [False] * len(logits)
    whether = [z for z, k in zip(logits, flags) if not k]
    p = softmax(np.mean(whether or logits, axis=0))
    if not any(flags) or not whether:
        return p
    which = softmax(np.mean(logits, axis=0)[..., 1:])
    return np.concatenate([p[..., :1], (1 - p[..., :1]) * which], axis=-1)


def ensemble_predict(logits: dict[str, list[np.ndarray]],
                     kind_only: dict[str, list[bool]] | None = None) -> dict[str, np.ndarray]:
    """task -> its members' logits (and which of them are kind_only)  =>  task -> its distribution (`fuse`)."""
    return {task: fuse(zs, (kind_only or {}).get(task)) for task, zs in logits.items()}


def save(heads: dict[str, Head], folder: str | Path, meta: dict) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    desc = {"meta": meta, "heads": {}}
    for name, h in heads.items():
        for k, v in h.params.items():
            arrays[f"{name}.{k}"] = v.astype(np.float16 if v.ndim == 2 else np.float32)
        desc["heads"][name] = {"task": h.task, "labels": list(h.labels), "temperature": h.temperature, "attention": h.attention,
                                "layers": list(h.layers), "speaker": h.speaker, "frame_stats": h.frame_stats,
                                "kind_only": h.kind_only}
    np.savez_compressed(folder / "heads.npz", **arrays)
    (folder / "heads.json").write_text(json.dumps(desc, indent=1) + "\n")


def load(folder: str | Path) -> tuple[dict[str, Head], dict]:
    folder = Path(folder)
    desc = json.loads((folder / "heads.json").read_text())
    z = np.load(folder / "heads.npz")
    heads = {}
    for name, d in desc["heads"].items():
        params = {k.split(".", 1)[1]: z[k].astype(np.float32) for k in z.files if k.split(".", 1)[0] == name}
        heads[name] = Head(task=d.get("task", name), labels=tuple(d["labels"]), params=params, temperature=float(d["temperature"]),
                           attention=bool(d["attention"]), layers=tuple(d.get("layers", (-1,))),
                           speaker=bool(d.get("speaker", False)), frame_stats=bool(d.get("frame_stats", False)),
                           kind_only=bool(d.get("kind_only", False)))
    return heads, desc["meta"]
