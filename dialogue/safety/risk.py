"""What the safety layer concludes about a turn: a level, a category and the reason, in one small value."""
from __future__ import annotations

from dataclasses import dataclass

from ..voice import VoiceCues

CATEGORIES = ("suicide", "self_harm", "harm_to_others", "abuse", "medical_emergency")
# none: nothing to act on; concern: distress to keep an ear on (noted for the model, no event);
# elevated: a crisis signal (escalate); imminent: danger now, the means, a plan or a time (escalate, fixed reply).
LEVELS = ("none", "concern", "elevated", "imminent")
ESCALATE = frozenset({"elevated", "imminent"})
# The names the first version of the protocol used, still sent beside the level.
SEVERITY_OF = {"concern": "low", "elevated": "medium", "imminent": "high"}
LEVEL_OF_SEVERITY = {v: k for k, v in SEVERITY_OF.items()}

# How a voice can raise the prior (never lower it): these events and styles are heard in people in crisis.
DISTRESS_EVENTS = frozenset({"crying", "sobbing", "screaming", "panting", "gasping", "trembling", "whispering"})
ACUTE_EVENTS = frozenset({"screaming", "panting", "gasping"})  # danger now rather than sorrow


@dataclass(frozen=True)
class Concern:
    category: str | None = None
    level: str = "none"
    reason: str = ""
    matched: str = ""
    voice: tuple[str, ...] = ()
    source: str = ""  # which member decided: rules, scorer, answer, context, rising, model
    score: float | None = None  # the scorer's crisis probability, where it ran
    guess: str | None = None  # the category the scorer leaned to, even below its thresholds

    @property
    def escalate(self) -> bool:
        return self.level in ESCALATE

    @property
    def severity(self) -> str | None:
        return SEVERITY_OF.get(self.level)

    def as_event(self) -> dict:
        return {"category": self.category, "level": self.level, "severity": self.severity, "reason": self.reason}

    def describe(self) -> str:
        if not self.category and self.level == "none":
            return "none"
        what = (self.category or "distress").replace("_", " ")
        return f"{self.level} {what} ({self.reason})"


def rank(level: str) -> int:
    return LEVELS.index(level)


def gravity(concern: Concern) -> int:
    """Orders concerns: none (-1) < concern < elevated < imminent."""
    return rank(concern.level) - 1


def voice_distress(voice: VoiceCues | None) -> tuple[str, ...]:
    """The distress the voice carries, in words: the events and styles that raise the prior."""
    if voice is None:
        return ()
    heard = [e for e in voice.events if e in DISTRESS_EVENTS]
    style = (voice.style or "").lower()
    heard += [w for w in ("whispering", "trembling", "flat") if w[:5] in style and w not in heard]
    if "monotone" in style and "flat" not in heard:
        heard.append("flat")
    return tuple(heard)
