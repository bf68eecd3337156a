"""The dialogue model's second opinion: one short risk question, answered from its next-token
probabilities for "yes" and "no", asked only where the cheap screen is unsure (its grey zone).

The question is appended to the reply's own messages (system prompt, history, the user's turns since the
agent last spoke), so a backend that keeps a prefix cache evaluates only the question's ~60 tokens, and
the reply that follows reuses everything before it. It can raise a turn to elevated; it never lowers what
the screen found. Measured in `benchmarks/safety.py --model-check`; off by default (see dialogue/README.md
for why: the embedded model answers near chance).
"""
from __future__ import annotations

from typing import Protocol

from .risk import Concern

QUESTION = ("Safety check, not part of the conversation: the user will not see this. Read what the user said "
            "since you last spoke. Could they be at risk right now, said directly or indirectly: thinking of "
            "ending their life or of not being around, harming themselves, hurting someone, being hurt by "
            "someone, or a medical emergency? Answer only yes or no.")


class YesNoModel(Protocol):
    def yes_probability(self, messages: list[dict]) -> float: ...


class ModelRiskCheck:
    def __init__(self, model: YesNoModel, *, threshold: float = 0.5, grey_from: float = 0.1) -> None:
        """`threshold`: P(yes) that raises a turn; `grey_from`: the scorer's crisis probability from which
        the question is asked (a pattern's concern is always asked about)."""
        if not hasattr(model, "yes_probability"):
            raise ValueError(f"{getattr(model, 'name', model)!r} cannot answer a yes/no question from its probabilities")
        self.model, self.threshold, self.grey_from = model, threshold, grey_from

    def unsure(self, concern: Concern) -> bool:
        return not concern.escalate and (concern.level == "concern" or (concern.score or 0.0) >= self.grey_from)

    def probability(self, messages: list[dict]) -> float:
        return self.model.yes_probability([*messages, {"role": "system", "content": QUESTION}])

    def review(self, messages: list[dict], concern: Concern) -> Concern:
        """`concern` as the screen found it, raised to elevated when the model says yes."""
        if not self.unsure(concern):
            return concern
        p = self.probability(messages)
        if p < self.threshold:
            return concern
        return Concern(concern.category or concern.guess or "suicide", "elevated",
                       f"the dialogue model heard a risk (p={p:.2f})", concern.matched, concern.voice, "model",
                       concern.score, concern.guess)
