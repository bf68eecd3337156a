"""The scorer's second encoder (all-mpnet-base-v2, its top layer fine-tuned), trained the fast way: the states that
enter the tuned layers are computed once and cached, so a training step runs only those layers.

Alone it ranks a little worse than the tuned MiniLM; beside it, the two disagree on different lines, and their
blend ranks better than either (out of fold by author; see models/MODEL_CARD.md). The blend is one number on
the MiniLM's crisis-logit scale, so the thresholds, the voice's bias and the levels read it as before:

    crisis = (1 - weight) * z_minilm + weight * (scale * z_partner + shift)

where `scale` and `shift` put the partner's logits on the MiniLM's (the same mean and spread over the ordinary
lines, out of fold). Runs on any encoder whose layers take (states, additive mask[, position bias]).
"""
from __future__ import annotations

import time

import numpy as np

from .cases import Case
from .scorer import pieces
from .tuning import text_of, tune_with_heads


class CachedTop:
    """An encoder split where its tuned layers start: `inputs(texts)` runs the frozen part once (per text, the
    states entering the first tuned layer); `pooled(states)` runs the tuned layers and mean-pools, with gradients."""

    def __init__(self, path: str, top_layers: tuple[int, ...]) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.model = AutoModel.from_pretrained(str(path)).eval()
        layers = self.model.encoder.layer
        if list(top_layers) != list(range(min(top_layers), len(layers))):
            raise ValueError(f"the tuned layers must be the encoder's top ones ({len(layers)} layers), not {top_layers}")
        self.first, self.top_layers = min(top_layers), tuple(top_layers)
        self.layers = layers[self.first:]
        self.dim = int(self.model.config.hidden_size)
        self._bias = getattr(self.model.encoder, "compute_position_bias", None)  # MPNet's relative positions
        self.torch = torch

    def inputs(self, texts: list[str], *, batch: int = 64, progress=None) -> list:
        torch = self.torch
        out: list = [None] * len(texts)
        order = np.argsort([len(t) for t in texts])  # like lengths together: little padding
        for i in range(0, len(texts), batch):
            idx = order[i:i + batch]
            enc = self.tokenizer([texts[j] for j in idx], padding=True, truncation=True, max_length=128, return_tensors="pt")
            with torch.inference_mode():
                states = self.model(**enc, output_hidden_states=True).hidden_states[self.first]
            for r, j in enumerate(idx):
                n = int(enc["attention_mask"][r].sum())
                out[j] = states[r, :n].to(torch.float16).clone()
            if progress:
                progress(min(i + batch, len(texts)), len(texts))
        return out

    def pooled(self, states: list):
        torch = self.torch
        n = max(s.shape[0] for s in states)
        x = torch.zeros(len(states), n, self.dim)
        mask = torch.zeros(len(states), n)
        for r, s in enumerate(states):
            x[r, :s.shape[0]], mask[r, :s.shape[0]] = s.float(), 1.0
        additive = (1.0 - mask)[:, None, None, :] * torch.finfo(x.dtype).min
        bias = self._bias(x) if self._bias is not None else None
        for layer in self.layers:
            x = (layer(x, additive, bias) if bias is not None else layer(x, additive))[0]
        m = mask[..., None]
        return (x * m).sum(1) / m.sum(1).clamp(min=1e-9)

    def tuned(self) -> dict[str, np.ndarray]:
        """The tuned layers' parameters under the full model's names (what `SentenceEncoder(tuned=...)` loads)."""
        names = {id(p): n for n, p in self.model.named_parameters()}
        return {names[id(p)]: p.detach().numpy().astype(np.float16) for p in self.layers.parameters()}


def finetune(top: CachedTop, states: list, cases: list[Case], *, epochs: int = 6, lr: float = 1e-4,
             seed: int = 0) -> dict:
    """The tuned layers (in `top`, changed in place) and a linear crisis and concern head, as the MiniLM recipe
    (`tuning.tune_with_heads`). `states[i]` is case i's first piece."""
    top.torch.manual_seed(seed)
    for p in top.model.parameters():
        p.requires_grad = False
    top.layers.train()
    heads = tune_with_heads(lambda batch: top.pooled([states[j] for j in batch]), list(top.layers.parameters()),
                            top.dim, cases, epochs=epochs, lr=lr, seed=seed)
    top.layers.eval()
    return heads


def crisis_logits(top: CachedTop, heads: dict, states: list) -> np.ndarray:
    w, b = np.asarray(heads["crisis"]["w"], np.float32), np.asarray(heads["crisis"]["b"], np.float32)
    out = []
    with top.torch.inference_mode():
        for i in range(0, len(states), 64):
            out.append(top.pooled(states[i:i + 64]).numpy() @ w.T + b)
    return np.concatenate(out)[:, 0] if out else np.zeros(0, np.float32)


def out_of_fold(path: str, cases: list[Case], fold: np.ndarray, *, top_layers: tuple[int, ...], progress=print,
                **kw) -> list[list[float]]:
    """Each case's crisis logits over its pieces, from a partner trained without its fold (`fold`: the MiniLM's
    author folds, so the two members' out-of-fold scores are comparable line by line)."""
    texts, owner, spans = [], [], []  # spans[i]: case i's pieces, texts[start:end]
    for i, c in enumerate(cases):
        start = len(texts)
        texts += pieces(text_of(c)) or [""]
        owner += [i] * (len(texts) - start)
        spans.append((start, len(texts)))
    owner = np.array(owner)
    first = np.array([start for start, _ in spans])
    t0 = time.monotonic()
    cached = CachedTop(path, top_layers)
    states = cached.inputs(texts)
    progress(f"partner: the frozen layers' states for {len(texts)} pieces in {time.monotonic() - t0:.0f} s")
    z = np.zeros(len(texts), np.float32)
    for f in range(int(fold.max()) + 1):
        t0 = time.monotonic()
        top = CachedTop(path, top_layers)
        train_idx = np.where(fold != f)[0]
        heads = finetune(top, [states[first[i]] for i in train_idx], [cases[i] for i in train_idx], **kw)
        held = np.where(fold[owner] == f)[0]
        z[held] = crisis_logits(top, heads, [states[j] for j in held])
        progress(f"partner fold {f + 1}/{int(fold.max()) + 1}: trained on {len(train_idx)} cases in {time.monotonic() - t0:.0f} s")
    return [z[start:end].tolist() for start, end in spans]


CEILING_MARGIN = 0.5  # logits above the highest the partner gave a tuning text, for words it never saw


def train(path: str, cases: list[Case], *, top_layers: tuple[int, ...], **kw) -> tuple[dict[str, np.ndarray], dict, float]:
    """The partner on every case: its tuned layers' parameters, its heads, and its ceiling (the highest crisis
    logit it gives the cases, plus a margin: the scorer skips it where even that could not change a verdict)."""
    top = CachedTop(path, top_layers)
    states = top.inputs([(pieces(text_of(c)) or [""])[0] for c in cases])
    heads = finetune(top, states, cases, **kw)
    return top.tuned(), heads, float(crisis_logits(top, heads, states).max()) + CEILING_MARGIN


def blend_params(main: np.ndarray, partner: np.ndarray, ordinary: np.ndarray, *, weight: float = 0.5) -> dict:
    """`scale` and `shift` that give the partner's logits the MiniLM's mean and spread over the ordinary lines."""
    scale = float(main[ordinary].std() / max(partner[ordinary].std(), 1e-6))
    return {"weight": weight, "scale": scale, "shift": float(main[ordinary].mean() - scale * partner[ordinary].mean())}


def blended(main: np.ndarray, partner: np.ndarray, params: dict) -> np.ndarray:
    w = params["weight"]
    return (1 - w) * main + w * (params["scale"] * partner + params["shift"])
