"""`warmline perceive`: label a folder or manifest of clips, one JSON line per clip with every prediction.

    warmline perceive --manifest FILE.csv --root DIR --out preds.jsonl
    warmline perceive --root DIR --out preds.jsonl          # every audio file under DIR
A manifest needs a `path` column (relative to --root); its other columns are copied as `truth`.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

AUDIO = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--manifest", help="CSV with a `path` column (relative to --root)")
    p.add_argument("--root", required=True, help="folder holding the clips")
    p.add_argument("--out", default="-", help="JSONL output file ('-' for stdout)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--whisper", default=None, help="Whisper base model name or folder (default: whisper-base)")
    p.add_argument("--models", default=None, help="folder with heads.npz/heads.json (default: the shipped heads)")
    p.add_argument("--condition", default="clean", choices=["clean", "tel", "noise10"],
                   help="degrade each clip first (telephone band, 10 dB noise) to test robustness")
    p.add_argument("--limit", type=int, default=0, help="only the first N clips")


def _rows(args) -> list[dict]:
    root = Path(args.root)
    if args.manifest:
        with open(args.manifest, newline="") as f:
            reader = csv.DictReader(f)
            if "path" not in (reader.fieldnames or []):
                raise ValueError(f"{args.manifest}: no `path` column")
            return list(reader)
    if not root.is_dir():
        raise ValueError(f"{root} is not a folder")
    return [{"path": str(p.relative_to(root))} for p in sorted(root.rglob("*")) if p.suffix.lower() in AUDIO]


def run(args) -> int:
    import numpy as np

    from .analyser import VoiceAnalyser
    from .augment import CONDITIONS
    from .dataset import load_audio

    try:
        rows = _rows(args)
    except (OSError, ValueError) as exc:
        print(f"perceive: {exc}", file=sys.stderr)
        return 2
    if args.limit:
        rows = rows[: args.limit]
    analyser = VoiceAnalyser(whisper_model=args.whisper, device=args.device, models_dir=args.models)
    rng = np.random.default_rng(0)
    out = sys.stdout if args.out == "-" else open(args.out, "w")
    failed = 0
    try:
        for i, row in enumerate(rows):
            rec = {"path": row["path"], "truth": {k: v for k, v in row.items() if k != "path"}}
            try:
                audio = CONDITIONS[args.condition](load_audio(Path(args.root) / row["path"]), rng)
                rec.update(analyser.analyse(audio).to_dict())
            except Exception as exc:  # noqa: BLE001 - one bad file must not stop a labelling run
                failed += 1
                rec.update(error=f"{type(exc).__name__}: {exc}", unknown=True)
            out.write(json.dumps(rec) + "\n")
            if (i + 1) % 100 == 0:
                print(f"perceive: {i + 1}/{len(rows)}", file=sys.stderr, flush=True)
    finally:
        if out is not sys.stdout:
            out.close()
    print(f"perceive: {len(rows)} clips, {failed} unreadable", file=sys.stderr)
    return 0 if failed < len(rows) or not rows else 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="warmline perceive", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
