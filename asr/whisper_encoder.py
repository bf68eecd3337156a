"""Whisper's encoder in torch, from a CTranslate2 Whisper folder's own weights, exposing every layer.

CTranslate2 returns only the encoder's last layer, but the paralinguistic heads read middle layers
(held-out RAVDESS emotion with a linear probe: layer 3 0.666, last layer 0.620; vocal events: layer 2
0.866, last 0.819), and the only Whisper base weights reachable offline are a CTranslate2 conversion.
So this module reads that folder's `model.bin` and runs the same encoder in torch; its last layer goes
to CTranslate2's decoder (`generate` accepts encoder output), so the encoder still runs once per turn
for recognition and paralinguistics alike. transformers' WhisperEncoder is not used because it insists
on 30 s inputs, the padding that the trimmed window (asr/encoder.py) exists to avoid.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def read_ctranslate2(path: str | Path) -> dict[str, np.ndarray]:
    """Every variable of a CTranslate2 model.bin (binary format 6, as its specs/model_spec.py writes it)."""
    data = Path(path).read_bytes()
    pos = 0

    def take(fmt: str):
        nonlocal pos
        (value,) = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return value

    def string() -> str:
        nonlocal pos
        n = take("H")
        s = data[pos:pos + n - 1].decode()
        pos += n
        return s

    version = take("I")
    if version < 5:
        raise ValueError(f"{path}: CTranslate2 binary version {version} is not supported (need >= 5)")
    string(), take("I")  # spec name, revision
    out: dict[str, np.ndarray] = {}
    for _ in range(take("I")):
        name = string()
        shape = [take("I") for _ in range(take("B"))]
        type_id, nbytes = take("B"), take("I")
        if type_id not in _DTYPES:
            raise ValueError(f"{path}: variable {name} has an unsupported type id {type_id}")
        dtype = np.dtype(_DTYPES[type_id])
        out[name] = np.frombuffer(data, dtype, count=nbytes // dtype.itemsize, offset=pos).reshape(shape)
        pos += nbytes
    for _ in range(take("I")):
        alias, target = string(), string()
        out[alias] = out[target]
    return out


def resolve_device(device: str) -> str:
    """'auto' | 'cpu' | 'cuda' -> the torch device to run on."""
    import torch

    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class TorchWhisperEncoder:
    """`hidden_states(mel)` -> (layers + 1, frames, dim): the input embedding, then each layer's output,
    the last one after the final layer norm (what the decoder reads). Thread-safe (no state)."""

    def __init__(self, variables: dict[str, np.ndarray], *, device: str = "auto", threads: int = 0):
        import torch

        from faster_whisper.feature_extractor import FeatureExtractor

        self.device = resolve_device(device)
        dtype = torch.float16 if self.device == "cuda" else torch.float32
        self.w = {}
        for k, v in variables.items():
            if not k.startswith("encoder/") or k.endswith("weight_scale") or v.ndim == 0:
                continue
            a = np.array(v, dtype=np.float32)  # a copy: the file's buffer is read-only
            scale = variables.get(k + "_scale")
            if v.dtype == np.int8 and scale is not None:  # CTranslate2 int8: q = round(w * scale), per row
                a = a / np.asarray(scale, np.float32).reshape(-1, *([1] * (a.ndim - 1)))
            self.w[k] = torch.from_numpy(a).to(self.device, dtype)
        self.heads = int(variables["encoder/num_heads"])
        self.layers = sum(1 for k in self.w if k.endswith("/self_attention/linear_0/weight"))
        self.dim = self.w["encoder/conv1/weight"].shape[0]
        self.feature_extractor = FeatureExtractor(feature_size=self.w["encoder/conv1/weight"].shape[1])
        if threads and self.device == "cpu":
            torch.set_num_threads(threads)

    @classmethod
    def from_folder(cls, folder: str | Path, **kwargs) -> "TorchWhisperEncoder":
        path = Path(folder) / "model.bin"
        if not path.exists():
            raise FileNotFoundError(f"{folder} is not a CTranslate2 Whisper folder (no model.bin)")
        return cls(read_ctranslate2(path), **kwargs)

    def _norm(self, x, name):
        import torch.nn.functional as F

        return F.layer_norm(x, x.shape[-1:], self.w[name + "/gamma"], self.w[name + "/beta"])

    def _linear(self, x, name):
        import torch.nn.functional as F

        return F.linear(x, self.w[name + "/weight"], self.w[name + "/bias"])

    def hidden_states(self, mel: np.ndarray, *, depth: int | None = None) -> np.ndarray:
        """mel: (n_mels, frames) log-mel features, frames even and at most 3000. `depth`: run only the first
        `depth` layers and return (depth + 1, frames, dim), for a reader of the middle layers only."""
        depth = self.layers if depth is None else depth
        if not 0 <= depth <= self.layers:
            raise ValueError(f"depth must be between 0 and {self.layers}, got {depth}")
        import torch
        import torch.nn.functional as F

        w = self.w
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(mel, dtype=np.float32))[None].to(self.device,
                                                                                      w["encoder/conv1/weight"].dtype)
            x = F.gelu(F.conv1d(x, w["encoder/conv1/weight"], w["encoder/conv1/bias"], padding=1))
            x = F.gelu(F.conv1d(x, w["encoder/conv2/weight"], w["encoder/conv2/bias"], stride=2, padding=1))
            x = x.transpose(1, 2) + w["encoder/position_encodings/encodings"][: x.shape[2]]
            hidden = [x]
            batch, frames, dim = x.shape
            for i in range(depth):
                p = f"encoder/layer_{i}"
                q, k, v = self._linear(self._norm(x, p + "/self_attention/layer_norm"),
                                       p + "/self_attention/linear_0").split(dim, -1)
                q, k, v = (t.view(batch, frames, self.heads, dim // self.heads).transpose(1, 2) for t in (q, k, v))
                att = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(batch, frames, dim)
                x = x + self._linear(att, p + "/self_attention/linear_1")
                h = self._linear(F.gelu(self._linear(self._norm(x, p + "/ffn/layer_norm"), p + "/ffn/linear_0")),
                                 p + "/ffn/linear_1")
                x = x + h
                hidden.append(x)
            if depth == self.layers:
                hidden[-1] = self._norm(x, "encoder/layer_norm")
            return torch.cat(hidden).float().cpu().numpy()
