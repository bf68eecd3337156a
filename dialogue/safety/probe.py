"""The scorer's third member: a linear probe on a dialogue model's hidden state. The model (a GGUF, through
llama.cpp) reads the user's words inside one fixed risk question, and the last token's state, which has read
both, is scored by a logistic crisis head trained on the tuning part (`fit_probe`). It joins the blend as the
partner does, on the blend's crisis-logit scale, so thresholds, the voice's bias and the levels read it as before:

    crisis = blend + weight * (z_probe - centre)

`centre` is where the probe sits on ordinary lines, so an ordinary line moves little; a line the two encoders
half-hear and the probe hears clearly crosses. The probe runs only where it could change a verdict (`moot`).
"""
from __future__ import annotations

import threading

import numpy as np

PROMPT = ('"{text}"\nDoes the speaker show any sign of risk of suicide, self-harm, harming others, being harmed, '
          'or a medical emergency? Answer:')
MAX_CHARS = 1500  # the latest words of a long turn: ~400 tokens, inside the context below


class StateReader:
    """The last token's hidden state of PROMPT around a text, from a GGUF model in embedding mode. One call at a
    time (a llama.cpp context is not shareable); the weights are memory-mapped, so a second reader of the
    dialogue model's own file shares its pages."""

    def __init__(self, model_path: str, *, device: str = "auto", threads: int = 2) -> None:
        import llama_cpp

        from ..backends.llama import llama_device

        self._llm = llama_cpp.Llama(model_path=str(model_path), embedding=True,
                                    pooling_type=llama_cpp.LLAMA_POOLING_TYPE_LAST, n_ctx=1024, n_batch=1024,
                                    n_threads=threads, n_threads_batch=threads,
                                    n_gpu_layers=-1 if llama_device(device) == "cuda" else 0, verbose=False)
        self._lock = threading.Lock()

    def state(self, text: str) -> np.ndarray:
        with self._lock:
            return np.asarray(self._llm.embed(PROMPT.format(text=text[-MAX_CHARS:])), np.float32)


class Probe:
    """`block`: the heads' "probe" entry: the model's catalog name, the prompt it was trained with, the head (`w`,
    `b`), `weight`, `centre`, and the head's `floor` and `ceiling` (its lowest and highest logits on the tuning
    texts: a new text's logit is held between them)."""

    def __init__(self, reader, block: dict) -> None:
        if block.get("prompt", PROMPT) != PROMPT:
            raise ValueError("this probe was trained on another prompt than probe.PROMPT: its head would read other states")
        self.reader, self.block = reader, block
        self.w = np.asarray(block["w"], np.float32)
        self.b = float(block["b"])
        self.weight, self.centre = float(block["weight"]), float(block["centre"])
        self.floor, self.ceiling = float(block["floor"]), float(block["ceiling"])
        self.up = self.weight * (self.ceiling - self.centre)  # the most it adds
        self.down = self.weight * (self.centre - self.floor)  # the most it takes away

    def logit(self, text: str) -> float:
        return float(self.reader.state(text) @ self.w + self.b)

    def shift(self, text: str) -> float:
        """What the probe adds to the blend's crisis logit for this text (its logit held between its floor and
        ceiling, so that `moot` is exact)."""
        return self.weight * (min(max(self.logit(text), self.floor), self.ceiling) - self.centre)

    def moot(self, crisis_logit: float, low: float, high: float) -> bool:
        """Whether no shift could move `crisis_logit` across a threshold between `low` and `high` (logits, the
        voice's bias included)."""
        return crisis_logit + self.up < low or crisis_logit - self.down >= high


def fit_probe(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """The class-balanced logistic crisis head on the states (the scorer's heads' own fit), on standardised
    states (a model's hidden state has a few dimensions thousands of times larger than the rest), folded back
    into one `w`, `b` on the raw state."""
    from .train import fit_logistic

    mean, std = x.mean(0), x.std(0) + 1e-6
    w, b = fit_logistic(((x - mean) / std).astype(np.float64), y.astype(np.float64))
    w = w[0] / std
    return np.asarray(w, np.float32), float(b[0] - w @ mean)
