"""Ordinary speech with no vocal event in it, from a Debian package, to teach the events head its `none` class.

Learnt from studio emotional speech alone, `none` did not cover telephone prompts or read speech: the
head heard crying or tongue-clicking in 26 of 57 Asterisk prompts and 4 of 5 LibriVox clips. The Asterisk
prompt voice (`asterisk-core-sounds-en-wav`, CC BY-SA 3.0, 8 kHz) adds ordinary speech from another
microphone and channel. The first `HELD_OUT_PROMPTS` top-level prompts are never trained on: the
perception suite measures false events on them (and on LibriVox, whose readers are never trained on).
"""
from __future__ import annotations

import csv
from pathlib import Path

ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds/en")
HELD_OUT_PROMPTS = 60
SKIP_FOLDERS = {"silence"}


def held_out_prompts(root: Path = ASTERISK_SOUNDS) -> list[Path]:
    return sorted(root.glob("*.wav"))[:HELD_OUT_PROMPTS]


def training_prompts(root: Path = ASTERISK_SOUNDS) -> list[Path]:
    held = set(held_out_prompts(root))
    top = [p for p in sorted(root.glob("*.wav")) if p not in held]
    nested = [p for p in sorted(root.glob("*/*.wav")) if p.parent.name not in SKIP_FOLDERS]
    return top + nested


def write_manifest(out: Path, root: Path = ASTERISK_SOUNDS) -> Path | None:
    """A manifest (paths relative to `root`) of the training prompts; None when the package is absent."""
    clips = training_prompts(root)
    if not clips:
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "dataset", "task", "label", "speaker", "gender", "age"])
        for p in clips:
            w.writerow([str(p.relative_to(root)), "asterisk_prompts", "vocal_event", "none", "asterisk_en", "", ""])
    return out
