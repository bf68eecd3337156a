"""The one fine-tuning loop both of the scorer's encoders use: some encoder parameters and a linear crisis and
concern head, trained on pooled embeddings (class-balanced binary cross-entropy, AdamW, linear warm-up and decay).
The caller seeds torch, chooses what `pooled(indices)` runs, and puts its modules in train or eval mode."""
from __future__ import annotations

from typing import Callable

import numpy as np

from .cases import Case
from .risk import rank

BATCH = 16


def text_of(case: Case) -> str:
    """What an encoder reads of a case: its user turns, joined."""
    return " ".join(case.turns)


def tune_with_heads(pooled: Callable, params: list, dim: int, cases: list[Case], *, epochs: int, lr: float,
                    seed: int = 0) -> dict:
    """`pooled(indices)`: the embeddings of those cases, with gradients to `params`. Returns the heads."""
    import torch

    for p in params:
        p.requires_grad = True
    head = torch.nn.Linear(dim, 2)
    lv = np.array([rank(c.level) for c in cases])
    y = torch.tensor(np.stack([lv >= 2, lv >= 1], 1), dtype=torch.float32)
    pos = y.mean(0).clamp(1e-3, 1 - 1e-3)
    loss_of = torch.nn.BCEWithLogitsLoss(pos_weight=(1 - pos) / pos)
    opt = torch.optim.AdamW([*params, *head.parameters()], lr=lr, weight_decay=0.01)
    steps = epochs * -(-len(cases) // BATCH)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / (0.1 * steps)) * max(0.0, 1 - s / steps))
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(cases))
        for i in range(0, len(cases), BATCH):
            batch = order[i:i + BATCH]
            loss = loss_of(head(pooled(batch)), y[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    for p in params:
        p.requires_grad = False
    w, b = head.weight.detach().numpy(), head.bias.detach().numpy()
    return {"crisis": {"w": w[:1].tolist(), "b": b[:1].tolist()}, "concern": {"w": w[1:].tolist(), "b": b[1:].tolist()}}
