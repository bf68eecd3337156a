"""The learned member of the screen: all-MiniLM-L6-v2, its top layers fine-tuned on the development set's
tuning part, read by four small linear heads (`train.py`, `models/MODEL_CARD.md`). Only the tuned layers
are shipped (`models/risk_encoder.npz`); the rest comes from the registry package.

It hears indirect signals the patterns were never written for ("I won't need him where I'm going"). A turn
is scored whole; a turn longer than the encoder reads is scored in windows and the gravest counts. A
distressed voice raises the prior odds of a crisis (a bias on the crisis logit); it can never lower them.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .risk import CATEGORIES, Concern

HEADS = Path(__file__).with_name("models") / "risk_heads.json"
# The same MiniLM blended with a tuned all-mpnet-base-v2 (partner.py): more recall on held-out words at about the
# same false alarms, at ~7x the cost per turn; the default since session 9 (MODEL_CARD.md, benchmarks/RESULTS.md).
BLEND_HEADS = HEADS.with_name("risk_heads_mpnet.json")
NAMED = {"minilm": HEADS, "minilm+mpnet": BLEND_HEADS}  # scorer names -> heads; the encoder is MiniLM in both
DEFAULT_SCORER = "minilm+mpnet"  # what the server, `warmline reply` and the benches load unless told otherwise
WINDOW, STRIDE = 80, 40  # words: ~100 tokens, inside the encoder's 128


class SentenceEncoder:
    """Mean-pooled sentence embeddings (normalised, as sentence-transformers makes them, unless the heads
    were trained on the raw mean) from a sentence-transformers folder, with transformers. `tuned`: an npz of
    parameters that replace the folder's (the fine-tuned top layers)."""

    def __init__(self, path: str | Path, *, device: str = "cpu", threads: int | None = 1,
                 tuned: str | Path | None = None, normalize: bool = True) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device, self.threads, self.normalize = device, threads, normalize
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.model = AutoModel.from_pretrained(str(path))
        if tuned is not None:
            own = dict(self.model.named_parameters())
            with np.load(tuned) as saved:
                unknown = sorted(set(saved.files) - set(own))
                if unknown:
                    raise ValueError(f"{tuned}: parameters the encoder at {path} does not have: {unknown[:3]}")
                with torch.no_grad():
                    for name in saved.files:
                        own[name].copy_(torch.from_numpy(saved[name].astype(np.float32)))
        self.model = self.model.to(device).eval()
        self.dim = int(self.model.config.hidden_size)

    def pooled(self, texts: list[str]):
        """The mean of the token states (a torch tensor, with gradients where the model has them)."""
        import torch

        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
        enc = {k: v.to(self.device) for k, v in enc.items()}
        states = self.model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1) if self.normalize else pooled

    def encode(self, texts: list[str], batch: int = 64) -> np.ndarray:
        import torch

        if self.device == "cpu":
            _use_threads(self.threads)
        out = []
        for i in range(0, len(texts), batch):
            with torch.inference_mode():
                out.append(self.pooled(texts[i:i + batch]).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)


_configured = threading.local()


def _use_threads(n: int | None) -> None:
    """torch's intra-op threads for the calling thread, set once per thread (the scorer runs beside the other
    models on two cores; it used to set and restore the count around every call, which could race with a
    model on another worker). torch keeps the count per thread (OpenMP), but `set_num_threads` also changes
    the default that threads starting torch later inherit: that default is put back from a helper thread,
    which leaves this thread's count alone."""
    if not n or getattr(_configured, "threads", None) == n:
        return
    import torch

    torch.get_num_threads()  # this thread takes the default now (torch does it lazily), not after the restore below
    seen: list[int] = []
    probe = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))  # a fresh thread: the default
    probe.start()
    probe.join()
    torch.set_num_threads(n)
    if seen and seen[0] != n:
        restore = threading.Thread(target=torch.set_num_threads, args=(seen[0],))
        restore.start()
        restore.join()
    _configured.threads = n


def pieces(text: str) -> list[str]:
    """The turn whole, or, past what the encoder reads (128 tokens), overlapping word windows, so a signal said
    after a long story is not cut off. (Scoring sentences apart and keeping the gravest was tried: out of fold
    it lost more to false alarms than it found, AUC 0.894 -> 0.833.)"""
    words = text.split()
    if len(words) <= WINDOW:
        return [" ".join(words)] if words else []
    return [" ".join(words[i:i + WINDOW]) for i in range(0, len(words) - WINDOW + STRIDE, STRIDE)]


@dataclass(frozen=True)
class Score:
    crisis: float  # P(elevated or imminent)
    concern: float  # P(concern or more)
    imminent: float  # P(imminent | a crisis)
    category: str
    piece: str


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float) -> float:
    """The inverse of `_sigmoid`, finite at 0 and 1."""
    return float(np.log(max(p, 1e-12) / max(1 - p, 1e-12)))


class RiskScorer:
    def __init__(self, encoder: SentenceEncoder, heads: dict, partner: SentenceEncoder | None = None,
                 probe=None) -> None:
        """`partner`: the second encoder the heads name (`heads["partner"]`), whose crisis logit is blended with
        this one's (partner.py says how); heads without one score with the one encoder. `probe`: the third
        member the heads name (`heads["probe"]`, probe.py), a `Probe`."""
        self.encoder, self.heads, self.partner, self.probe = encoder, heads, partner, probe
        if heads.get("probe") and probe is None:
            raise ValueError("these risk heads add a probe on a dialogue model's state; load them with RiskScorer.load or pass probe=")
        self.w = {k: (np.asarray(h["w"], np.float32), np.asarray(h["b"], np.float32)) for k, h in heads["heads"].items()}
        self.thresholds = heads["thresholds"]
        self.voice_bias = float(heads.get("voice_bias", 0.0))
        # the lowest and highest crisis threshold of any operating point, as logits
        points = [self.thresholds["crisis"], *(p["crisis"] for p in heads.get("operating_points", {}).values())]
        self.crisis_range = _logit(min(points)), _logit(max(points))
        self.blend = heads.get("partner")
        if self.blend and partner is None:
            raise ValueError("these risk heads blend a second encoder; load them with RiskScorer.load or pass partner=")
        self.partner_moot_below = None
        if self.blend:
            crisis = self.blend["heads"]["crisis"]
            self.partner_w = (np.asarray(crisis["w"], np.float32), np.asarray(crisis["b"], np.float32))
            if self.blend.get("ceiling") is not None:
                self.partner_moot_below = self._moot_below()

    def _moot_below(self) -> float:
        """The MiniLM crisis logit under which the partner cannot change any verdict: even at its `ceiling` (its
        highest logit on the tuning texts, with a margin), with the voice's bias, the blend stays under the lowest
        crisis threshold of any operating point (the `sensitive` one is where the reply starts to ask)."""
        floor = self.crisis_range[0] - self.voice_bias
        if self.probe is not None:  # the most the probe can add
            floor -= self.probe.up
        w = self.blend["weight"]
        return (floor - w * self._mapped(self.blend["ceiling"])) / (1 - w) if w < 1 else float("-inf")

    def _mapped(self, other: float) -> float:
        return self.blend["scale"] * other + self.blend["shift"]

    @classmethod
    def load(cls, encoder_path: str | Path, heads_path: str | Path = HEADS, *, device: str = "cpu",
             threads: int | None = 1, sensitivity: str | None = None) -> "RiskScorer":
        """`sensitivity`: one of the heads' operating points (quiet, balanced, sensitive: how many ordinary turns of
        a long call the scorer may escalate, out of fold: 0.5, 1 or 2 %); None is the heads' default."""
        heads_path = Path(heads_path)
        if not heads_path.exists():
            raise FileNotFoundError(f"no trained risk heads at {heads_path}: python -m dialogue.safety.train")
        heads = json.loads(heads_path.read_text())
        tuned = heads_path.with_name(heads["tuned_layers"]) if heads.get("tuned_layers") else None
        partner = None
        if heads.get("partner"):
            from server.models import resolve

            blend = heads["partner"]
            partner = SentenceEncoder(resolve(blend["encoder"]), device=device, threads=threads,
                                      tuned=heads_path.with_name(blend["tuned_layers"]), normalize=blend.get("normalize", False))
        probe = None
        if heads.get("probe"):
            from server.models import resolve

            from .probe import Probe, StateReader

            # llama.cpp's own two threads: one would double the probe's ~0.5 s a text
            probe = Probe(StateReader(resolve(heads["probe"]["model"]), device=device, threads=2), heads["probe"])
        scorer = cls(SentenceEncoder(encoder_path, device=device, threads=threads, tuned=tuned,
                                     normalize=heads.get("normalize", True)), heads, partner, probe)
        return scorer if sensitivity is None else scorer.at(sensitivity)

    @classmethod
    def named(cls, spec: str, heads: str | Path | None = None, **kw) -> "RiskScorer":
        """`minilm`, `minilm+mpnet` (NAMED), a heads file (`.json`: a retrain, or heads with a probe, read with
        MiniLM), or a sentence-transformers folder read by the default heads; `heads` names other heads."""
        from server.models import resolve

        if spec.endswith(".json"):
            return cls.load(resolve("minilm"), heads or spec, **kw)
        return cls.load(resolve("minilm" if spec in NAMED else spec), heads or NAMED.get(spec, HEADS), **kw)

    def at(self, sensitivity: str) -> "RiskScorer":
        """The same scorer (one encoder) at another of its heads' operating points."""
        points = self.heads.get("operating_points", {})
        if not points:  # heads trained before operating points keep their one threshold
            return self
        if sensitivity not in points:
            raise ValueError(f"no sensitivity {sensitivity!r} in the risk heads; known: {sorted(points)}")
        thresholds = {k: v for k, v in points[sensitivity].items() if k != "out_of_fold"}
        return RiskScorer(self.encoder, {**self.heads, "thresholds": thresholds, "sensitivity": sensitivity}, self.partner,
                          self.probe)

    def logits(self, emb: np.ndarray) -> dict[str, np.ndarray]:
        return {k: emb @ w.T + b for k, (w, b) in self.w.items()}

    def score_embeddings(self, emb: np.ndarray, texts: list[str], *, distressed: bool = False,
                         partner_emb: np.ndarray | None = None, probe_shift: float = 0.0) -> Score:
        """`partner_emb`: the partner encoder's embeddings of the same pieces, when the heads blend one (each
        member's gravest piece, blended: how the thresholds were chosen out of fold); None where it was moot.
        `probe_shift`: what the probe adds to the crisis logit (of the whole text; 0 where it was moot)."""
        z = self.logits(emb)
        bias = self.voice_bias if distressed else 0.0
        crisis_z = z["crisis"][:, 0]
        i = int(np.argmax(crisis_z))
        top = float(crisis_z[i])
        if self.blend:
            w, b = self.partner_w
            # without the partner's embeddings (moot: see score), its ceiling stands in, so the crisis score is an
            # upper bound: anything that compares it to a threshold errs towards asking or escalating
            other = float((partner_emb @ w.T + b)[:, 0].max()) if partner_emb is not None else float(self.blend["ceiling"])
            top = (1 - self.blend["weight"]) * top + self.blend["weight"] * self._mapped(other)
        top += probe_shift
        cat = z["category"][i]
        return Score(float(_sigmoid(top + bias)), float(_sigmoid(z["concern"][:, 0] + bias).max()),
                     float(_sigmoid(z["imminent"][i, 0])), CATEGORIES[int(np.argmax(cat))], texts[i])

    def score(self, text: str, *, distressed: bool = False) -> Score:
        """The partner (~85 % of a blend's time) runs only where it could matter: not when MiniLM's crisis logit
        is so low that no partner logit up to its ceiling could lift the blend to a threshold."""
        parts = pieces(text)
        emb = self.encoder.encode(parts)
        other = None
        if self.blend:
            moot = (self.partner_moot_below is not None and bool(parts)
                    and float(self.logits(emb)["crisis"][:, 0].max()) < self.partner_moot_below)
            other = None if moot else self.partner.encode(parts)
        score = self.score_embeddings(emb, parts, distressed=distressed, partner_emb=other)
        if self.probe is None or not parts:
            return score
        if self.probe.moot(_logit(score.crisis), *self.crisis_range):  # the voice's bias is in score.crisis
            return score
        return self.score_embeddings(emb, parts, distressed=distressed, partner_emb=other, probe_shift=self.probe.shift(text))

    def warm(self) -> "RiskScorer":
        """Run each encoder once, so that the first turn that needs one (the partner: the first turn that sounds
        at all like a crisis) does not pay its first run: ~0.3 GB of buffers and a slow first pass."""
        for encoder in (self.encoder, self.partner if self.blend else None):
            if encoder is not None:
                encoder.encode(["I am warming up."])
        if self.probe is not None:
            self.probe.logit("I am warming up.")
        return self

    def concern(self, text: str, *, distressed: bool = False) -> Concern:
        return self.decide(self.score(text, distressed=distressed), distressed=distressed)

    def decide(self, s: Score, *, distressed: bool = False) -> Concern:
        """The level from the scores. A distressed voice is already in them (its bias); a concern it lifts past
        `voice_raise` is a crisis, as a concern said crying is. (Heads trained before that threshold existed
        leave the raise to the screen, as it was.)"""
        t = self.thresholds
        raised = distressed and "voice_raise" in t and s.concern >= t["voice_raise"]
        if s.crisis >= t["crisis"] or raised:
            level = "imminent" if s.crisis >= t["crisis"] and s.imminent >= t["imminent"] else "elevated"
            return Concern(s.category, level, f"sounds like {_WHAT[s.category]}", s.piece, source="scorer",
                           score=round(s.crisis, 3), guess=s.category)
        if s.concern >= t["concern"]:
            return Concern(s.category, "concern", "sounds hopeless or in pain", s.piece, source="scorer",
                           score=round(s.crisis, 3), guess=s.category)
        return Concern(score=round(s.crisis, 3), guess=s.category)


_WHAT = {"suicide": "thoughts of ending their life", "self_harm": "harming themselves",
         "harm_to_others": "thoughts of hurting someone", "abuse": "being hurt by someone",
         "medical_emergency": "a medical emergency"}
