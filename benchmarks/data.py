"""Where the real recordings are: Debian's speech packages and the shared labelled set."""
from __future__ import annotations

import os
import re
from pathlib import Path

from paralinguistics.ordinary import ASTERISK_SOUNDS  # noqa: F401  (one place names the folder)

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
REPO = Path(__file__).resolve().parent.parent


def paralinguistics_root() -> Path | None:
    """The shared labelled speech (non-commercial; never copied into the repo), or None if absent."""
    root = Path(os.environ.get("WARMLINE_PARALINGUISTICS_DATA", REPO.parent / "shared" / "data" / "paralinguistics"))
    return root if (root / "manifest.csv").exists() else None


def librivox_clips() -> list[tuple[Path, str]]:
    """The five LibriVox clips of Debian's pocketsphinx-testdata, with their transcripts."""
    listing = LIBRIVOX / "transcription"
    if not listing.exists():
        return []
    clips = []
    for line in listing.read_text().splitlines():
        m = re.match(r"<s>\s*(.*?)\s*</s>\s*\((.+)\)", line)
        if m:
            clips.append((LIBRIVOX / f"{m.group(2)}.wav", m.group(1)))
    return clips
