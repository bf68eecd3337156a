"""Labelled crisis cases (JSON Lines), as the development sets and the dialogue suite write them.

A line: {"id", "turns": [user turns, and {"role": "assistant", "content"} for what the agent said before the turn
after it], "level": none|concern|elevated|imminent, "category", "kind",
"voice": null | a sound such as "crying", "level_with_voice", and for a long call "crisis_from": the first turn
(0-based) after which it warrants escalation}; the label is for the situation after the last turn. The dialogue suite's older lines ({"text"|"turns"|"history", "category", "severity": low|medium|high})
are read too.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .risk import CATEGORIES, LEVEL_OF_SEVERITY, LEVELS

# How a case's voice word becomes what the analyser would report (an event, or a style).
VOICE_OF = {"crying": {"vocal_events": ["crying"]}, "sobbing": {"vocal_events": ["sobbing"]},
            "screaming": {"vocal_events": ["screaming"]}, "panting": {"vocal_events": ["panting"]},
            "sighing": {"vocal_events": ["sighing"]}, "laughing": {"vocal_events": ["laughing"]},
            "trembling": {"style": "trembling"}, "whispering": {"style": "whispering"}, "flat": {"style": "flat"},
            "calm": {"emotion": "neutral"}}


@dataclass(frozen=True)
class Case:
    id: str
    turns: tuple[str, ...]
    level: str
    category: str | None
    kind: str = ""
    voice: str | None = None
    level_with_voice: str | None = None
    crisis_from: int | None = None  # a long call that turns to crisis: the first turn that warrants escalation
    asked: tuple[str | None, ...] = ()  # per user turn, what the agent said just before it, where written

    def agent_before(self, i: int) -> str | None:
        return self.asked[i] if i < len(self.asked) else None

    @property
    def crisis(self) -> bool:
        return self.level in ("elevated", "imminent")

    def expected(self, *, with_voice: bool) -> str:
        return (self.level_with_voice or self.level) if with_voice and self.voice else self.level

    def voice_cues(self) -> dict | None:
        return VOICE_OF.get(self.voice) if self.voice else None


def load(path: str | Path) -> list[Case]:
    path = Path(path)
    cases = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            cases.append(_case(json.loads(line), n))
        except (json.JSONDecodeError, ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"{path}:{n}: {exc}") from exc
    return cases


def _case(raw: dict, n: int) -> Case:
    turns = raw.get("turns")
    if not isinstance(turns, list):
        turns = (raw.get("history") or []) + [raw.get("text") or raw.get("user")]
    users, asked, agent = [], [], None
    for t in turns:
        if isinstance(t, str):
            t = {"role": "user", "content": t}
        if not isinstance(t, dict):
            continue
        role, text = t.get("role", "user"), (t.get("content") or "").strip()
        if role == "assistant":
            agent = text or None
        elif role == "user" and text:
            users.append(text)
            asked.append(agent)
            agent = None
    if not users:
        raise ValueError("no user turns")
    turns = tuple(users)
    expect = raw.get("expect") if isinstance(raw.get("expect"), dict) else {}
    category = raw.get("category", expect.get("crisis"))
    category = None if category in (None, "", "none", "None") else category
    level = raw.get("level") or LEVEL_OF_SEVERITY.get(raw.get("severity", expect.get("severity")) or "")
    level = level or ("elevated" if category else "none")
    if level not in LEVELS or (category is not None and category not in CATEGORIES):
        raise ValueError(f"level {level!r} / category {category!r} not among {LEVELS} / {CATEGORIES}")
    voice = raw.get("voice") if isinstance(raw.get("voice"), str) else None
    crisis_from = raw.get("crisis_from")
    if crisis_from is not None and not (isinstance(crisis_from, int) and 0 <= crisis_from < len(turns)):
        raise ValueError(f"crisis_from {crisis_from!r} is not a turn of the case")
    return Case(str(raw.get("id", n)), turns, level, category, raw.get("kind", ""), voice,
                raw.get("level_with_voice") if voice else None, crisis_from,
                tuple(asked) if any(asked) else ())
