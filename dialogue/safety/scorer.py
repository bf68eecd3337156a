"""The learned member of the screen: a sentence embedding (all-MiniLM-L6-v2) read by four small logistic
heads trained on the development set's tuning part (`train.py`, `models/MODEL_CARD.md`).

It hears indirect signals the patterns were never written for ("I won't need him where I'm going"). A turn
is scored whole and piece by piece (sentences; windows of an unpunctuated transcript) and the gravest piece
counts, so a signal said after a long story is not averaged away. A distressed voice raises the prior odds
of a crisis (a bias on the crisis logit); it can never lower them.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .risk import CATEGORIES, Concern

HEADS = Path(__file__).with_name("models") / "risk_heads.json"
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\s+(?:but|and then|so now)\s+", re.I)
WINDOW, STRIDE = 14, 7  # words, for turns the recogniser left without punctuation


class SentenceEncoder:
    """Mean-pooled, normalised sentence embeddings from a sentence-transformers folder, with transformers."""

    def __init__(self, path: str | Path, *, device: str = "cpu", threads: int | None = 1) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device, self.threads = device, threads
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.model = AutoModel.from_pretrained(str(path)).to(device).eval()
        self.dim = int(self.model.config.hidden_size)

    def encode(self, texts: list[str], batch: int = 64) -> np.ndarray:
        import torch

        out = []
        for i in range(0, len(texts), batch):
            enc = self.tokenizer(texts[i:i + batch], padding=True, truncation=True, max_length=128, return_tensors="pt")
            enc = {k: v.to(self.device) for k, v in enc.items()}
            with torch.inference_mode(), _threads(self.threads if self.device == "cpu" else None):
                states = self.model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(pooled, dim=-1).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)


class _threads:
    """torch's intra-op threads for one call (the scorer runs beside the other models on two cores)."""

    def __init__(self, n: int | None) -> None:
        self.n = n

    def __enter__(self):
        import torch

        self.before = torch.get_num_threads()
        if self.n:
            torch.set_num_threads(self.n)

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self.before)


def pieces(text: str) -> list[str]:
    """The turn itself, its sentences, and word windows of any long stretch without punctuation."""
    text = " ".join(text.split())
    out = [text]
    for sentence in (s.strip() for s in _SENTENCE.split(text)):
        words = sentence.split()
        if len(words) <= WINDOW:
            out.append(sentence)
            continue
        out += [" ".join(words[i:i + WINDOW]) for i in range(0, len(words) - WINDOW + STRIDE, STRIDE)]
    return list(dict.fromkeys(p for p in out if p))


@dataclass(frozen=True)
class Score:
    crisis: float  # P(elevated or imminent)
    concern: float  # P(concern or more)
    imminent: float  # P(imminent | a crisis)
    category: str
    piece: str


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class RiskScorer:
    def __init__(self, encoder: SentenceEncoder, heads: dict) -> None:
        self.encoder, self.heads = encoder, heads
        self.w = {k: (np.asarray(h["w"], np.float32), np.asarray(h["b"], np.float32)) for k, h in heads["heads"].items()}
        self.thresholds = heads["thresholds"]
        self.voice_bias = float(heads.get("voice_bias", 0.0))

    @classmethod
    def load(cls, encoder_path: str | Path, heads_path: str | Path = HEADS, *, device: str = "cpu",
             threads: int | None = 1) -> "RiskScorer":
        heads = json.loads(Path(heads_path).read_text())
        return cls(SentenceEncoder(encoder_path, device=device, threads=threads), heads)

    def logits(self, emb: np.ndarray) -> dict[str, np.ndarray]:
        return {k: emb @ w.T + b for k, (w, b) in self.w.items()}

    def score_embeddings(self, emb: np.ndarray, texts: list[str], *, distressed: bool = False) -> Score:
        z = self.logits(emb)
        bias = self.voice_bias if distressed else 0.0
        crisis = _sigmoid(z["crisis"][:, 0] + bias)
        i = int(np.argmax(crisis))
        cat = z["category"][i]
        return Score(float(crisis[i]), float(_sigmoid(z["concern"][:, 0] + bias).max()),
                     float(_sigmoid(z["imminent"][i, 0])), CATEGORIES[int(np.argmax(cat))], texts[i])

    def score(self, text: str, *, distressed: bool = False) -> Score:
        parts = pieces(text)
        return self.score_embeddings(self.encoder.encode(parts), parts, distressed=distressed)

    def concern(self, text: str, *, distressed: bool = False) -> Concern:
        return self.decide(self.score(text, distressed=distressed))

    def decide(self, s: Score) -> Concern:
        t = self.thresholds
        if s.crisis >= t["crisis"]:
            level = "imminent" if s.imminent >= t["imminent"] else "elevated"
            return Concern(s.category, level, f"sounds like {_WHAT[s.category]}", s.piece, source="scorer",
                           score=round(s.crisis, 3), guess=s.category)
        if s.concern >= t["concern"]:
            return Concern(s.category, "concern", "sounds hopeless or in pain", s.piece, source="scorer",
                           score=round(s.crisis, 3), guess=s.category)
        return Concern(score=round(s.crisis, 3), guess=s.category)


_WHAT = {"suicide": "thoughts of ending their life", "self_harm": "harming themselves",
         "harm_to_others": "thoughts of hurting someone", "abuse": "being hurt by someone",
         "medical_emergency": "a medical emergency"}
