"""Prosody profiles: the emotion table of profiles.toml, scaled by intensity."""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from .base import EMOTIONS

DEFAULT_TABLE = Path(__file__).with_name("profiles.toml")
_RATIO_FIELDS = ("rate", "pitch_range", "variation")  # scaled in log space
_LINEAR_FIELDS = ("pitch_semitones", "energy_db", "pause_clause_ms", "pause_sentence_ms")


@dataclass(frozen=True)
class Prosody:
    rate: float = 1.0
    pitch_semitones: float = 0.0
    pitch_range: float = 1.0
    energy_db: float = 0.0
    pause_clause_ms: float = 120.0
    pause_sentence_ms: float = 260.0
    variation: float = 1.0
    reference_clip: str = ""

    def __post_init__(self) -> None:
        for name in (*_RATIO_FIELDS,):
            if not getattr(self, name) > 0:
                raise ValueError(f"prosody {name} must be > 0, got {getattr(self, name)}")
        if self.pause_clause_ms < 0 or self.pause_sentence_ms < 0:
            raise ValueError("pauses must be >= 0 ms")

    @property
    def changes_pitch(self) -> bool:
        return abs(self.pitch_semitones) > 1e-3 or abs(self.pitch_range - 1.0) > 1e-3


class ProfileTable:
    """Emotion -> Prosody. Unknown emotions fall back to neutral; intensity is clamped to [0, 1]."""

    def __init__(self, profiles: dict[str, Prosody], path: Path | None = None) -> None:
        if "neutral" not in profiles:
            raise ValueError("a profile table needs a 'neutral' entry")
        self.profiles = profiles
        self.path = path  # the file it was read from, if any

    @classmethod
    def load(cls, path: str | Path = DEFAULT_TABLE) -> "ProfileTable":
        with open(path, "rb") as f:
            raw = tomllib.load(f)
        known = {f.name for f in fields(Prosody)}
        profiles = {}
        for name, values in raw.items():
            unknown = set(values) - known
            if unknown:
                raise ValueError(f"{path}: [{name}] has unknown keys {sorted(unknown)}; known: {sorted(known)}")
            profiles[name] = Prosody(**values)
            if profiles[name].reference_clip and not Path(profiles[name].reference_clip).is_absolute():
                clip = str(Path(path).parent / profiles[name].reference_clip)
                profiles[name] = replace(profiles[name], reference_clip=clip)
        missing = set(EMOTIONS) - set(profiles)
        if missing:
            raise ValueError(f"{path} lacks profiles for {sorted(missing)}")
        return cls(profiles, Path(path))

    def get(self, emotion: str | None, intensity: float | None = 0.5) -> Prosody:
        neutral = self.profiles["neutral"]
        target = self.profiles.get((emotion or "neutral").strip().lower(), neutral)
        try:
            k = float(intensity) / 0.5
        except (TypeError, ValueError):
            k = 1.0
        k = 0.0 if math.isnan(k) else min(max(k, 0.0), 2.0)
        values = {}
        for name in _RATIO_FIELDS:
            n, t = getattr(neutral, name), getattr(target, name)
            values[name] = n * (t / n) ** k
        for name in _LINEAR_FIELDS:
            n, t = getattr(neutral, name), getattr(target, name)
            values[name] = max(0.0, n + (t - n) * k) if name.startswith("pause") else n + (t - n) * k
        return Prosody(**values, reference_clip=target.reference_clip)


_default: ProfileTable | None = None


def default_table() -> ProfileTable:
    global _default
    if _default is None:
        _default = ProfileTable.load()
    return _default
