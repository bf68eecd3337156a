"""A labelled manifest and its cached features (Whisper base states, prosody) per audio condition.

Manifest columns (as in the shared one): path, dataset, task (emotion | vocal_event), label, speaker,
gender (F/M or empty), age (years or empty); `path` is relative to the root folder.
Features are cached as one npz per (manifest, condition) outside the repo, and extraction resumes.
"""
from __future__ import annotations

import csv
import hashlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from . import augment, features

SR = 16000


@dataclass
class Clip:
    path: str
    dataset: str
    task: str
    label: str
    speaker: str
    gender: str
    age: float | None


def read_manifest(path: str | Path) -> list[Clip]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = {"path", "label"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: manifest lacks column(s) {sorted(missing)}")
        clips = []
        for row in reader:
            age = (row.get("age") or "").strip()
            clips.append(Clip(
                path=row["path"], dataset=row.get("dataset") or "", task=row.get("task") or "emotion",
                label=(row.get("label") or "").strip(), speaker=row.get("speaker") or row["path"],
                gender=(row.get("gender") or "").strip().upper(), age=float(age) if age else None))
    return clips


def load_audio(path: str | Path) -> np.ndarray:
    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    return soxr.resample(x, sr, SR).astype(np.float32) if sr != SR else x


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "warmline" / "features"
    base.mkdir(parents=True, exist_ok=True)
    return base


def manifest_key(manifest: str | Path) -> str:
    """A short name for a manifest, from its resolved path: what its cached files are named by."""
    return f"{Path(manifest).stem}-{hashlib.sha1(str(Path(manifest).resolve()).encode()).hexdigest()[:10]}"


def cache_path(manifest: str | Path, condition: str) -> Path:
    return cache_dir() / f"{manifest_key(manifest)}-{condition}-layers.npz"  # every hidden state


def extract(manifest: str | Path, root: str | Path, condition: str, whisper, *, save_every: int = 400,
            log=sys.stderr) -> dict[str, np.ndarray]:
    """Encode every clip under `condition` with `whisper` (asr.whisper_encoder.TorchWhisperEncoder); cached,
    resumable. `pooled` holds every hidden state's mean+std, (clips, layers + 1, 2 * dim), so a head can
    choose its layers without another encoder pass; `frames` the last layer, halved in time."""
    from asr.encoder import encode

    clips = read_manifest(manifest)
    out = cache_path(manifest, condition)
    done: dict[str, list] = {"pooled": [], "prosody": [], "frames": [], "paths": []}
    if out.exists():
        z = np.load(out, allow_pickle=False)
        if len(z["paths"]) == len(clips) and bool(z["complete"]):
            return dict(z)
        off, frames = z["offsets"], z["frames"]  # read once: every z[...] loads the whole array again
        done = {"pooled": list(z["pooled"]), "prosody": list(z["prosody"]), "paths": list(z["paths"]),
                "frames": [frames[off[i]:off[i + 1]] for i in range(len(off) - 1)]}
    rng = np.random.default_rng(1234 + len(done["paths"]))
    t0 = time.time()
    for i in range(len(done["paths"]), len(clips)):
        clip = clips[i]
        x = augment.CONDITIONS[condition](load_audio(Path(root) / clip.path), rng)
        enc = encode(whisper, x)
        hidden = enc.hidden[:, : enc.audio_frames]
        states = hidden[-1]
        _, pros = features.signal_features(x)
        done["pooled"].append(np.stack([features.pool(h) for h in hidden]))
        done["prosody"].append(pros)
        done["frames"].append(features.halve(states).astype(np.float16))
        done["paths"].append(clip.path)
        n = i + 1
        if n % save_every == 0 or n == len(clips):
            _save(out, done, complete=n == len(clips))
            print(f"[{condition}] {n}/{len(clips)} clips, {time.time() - t0:.0f} s", file=log, flush=True)
    return dict(np.load(out, allow_pickle=False))


def speaker_cache_path(manifest: str | Path, condition: str) -> Path:
    from .speaker import METHOD

    return cache_dir() / f"{manifest_key(manifest)}-{condition}-speaker-{METHOD}.npz"


def extract_speaker(manifest: str | Path, root: str | Path, condition: str, encoder=None, *,
                    log=sys.stderr) -> np.ndarray:
    """Speaker embeddings (clips, 256) of every clip under `condition` (`speaker.VoiceEncoder`); cached.
    ~30 ms per clip on one thread."""
    clips = read_manifest(manifest)
    out = speaker_cache_path(manifest, condition)
    if out.exists():
        z = np.load(out, allow_pickle=False)
        if list(z["paths"]) == [c.path for c in clips]:
            return z["embeddings"]
    if encoder is None:
        from .speaker import VoiceEncoder

        encoder = VoiceEncoder()
    rng = np.random.default_rng(1234)  # the noise condition draws as `extract` does
    t0 = time.time()
    rows = []
    for i, clip in enumerate(clips):
        x = augment.CONDITIONS[condition](load_audio(Path(root) / clip.path), rng)
        rows.append(encoder.embed(x))
        if (i + 1) % 1000 == 0 or i + 1 == len(clips):
            print(f"[{condition} speaker] {i + 1}/{len(clips)} clips, {time.time() - t0:.0f} s", file=log, flush=True)
    emb = np.stack(rows).astype(np.float32)
    tmp = out.with_suffix(".tmp.npz")
    np.savez(tmp, embeddings=emb, paths=np.array([c.path for c in clips]))
    os.replace(tmp, out)
    return emb


def _save(out: Path, d: dict, *, complete: bool) -> None:
    lengths = [len(f) for f in d["frames"]]
    tmp = out.with_suffix(".tmp.npz")
    np.savez(tmp, pooled=np.stack(d["pooled"]), prosody=np.stack(d["prosody"]),
             frames=np.concatenate(d["frames"]).astype(np.float16), offsets=np.concatenate([[0], np.cumsum(lengths)]),
             paths=np.array(d["paths"]), complete=np.array(complete))
    os.replace(tmp, out)


def load_whisper(name: str | None = None, device: str = "auto", threads: int = 2):
    from asr.whisper_encoder import TorchWhisperEncoder
    from server.models import resolve

    return TorchWhisperEncoder.from_folder(resolve(name or "whisper-base"), device=device, threads=threads)


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(description="cache Whisper-base features of a manifest")
    p.add_argument("--manifest", required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--conditions", default="clean,tel,noise10")
    p.add_argument("--whisper", default=None)
    p.add_argument("--refresh-prosody", action="store_true", help="only recompute the prosodic features")
    a = p.parse_args(argv)
    if a.refresh_prosody:
        for c in a.conditions.split(","):
            refresh_prosody(a.manifest, a.root, c)
        return 0
    model = load_whisper(a.whisper)
    for c in a.conditions.split(","):
        extract(a.manifest, a.root, c, model)
    return 0



def refresh_prosody(manifest: str | Path, root: str | Path, condition: str) -> None:
    """Recompute the cached prosodic features (after a change to prosody.py) without another encoder pass.

    The noise of the `noise10` condition is drawn in clip order from a fixed seed, so a full pass redraws
    the same noise as the extraction did (when that ran in one go)."""
    out = cache_path(manifest, condition)
    z = dict(np.load(out, allow_pickle=False))
    clips = read_manifest(manifest)
    rng = np.random.default_rng(1234)
    pros = []
    for clip in clips[: len(z["paths"])]:
        x = augment.CONDITIONS[condition](load_audio(Path(root) / clip.path), rng)
        pros.append(features.signal_features(x)[1])
    z["prosody"] = np.stack(pros)
    tmp = out.with_suffix(".tmp.npz")
    np.savez(tmp, **z)
    os.replace(tmp, out)


if __name__ == "__main__":
    raise SystemExit(main())
