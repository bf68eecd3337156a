"""The first words of a reply, chosen before the model has read the turn: a short phrase that answers the
feeling ("I hear you.", "Oh, that's lovely!"), which the voice can say at once while the model writes the
rest behind it.

Policy "acknowledge, then answer": the phrase depends only on what is known before the model speaks (the
words' shape, the emotion heard in voice and words, a safety concern), and says nothing that could be
wrong about the content. Its audio is rendered once per process, so it can be ready when the turn ends.
The model's reply continues after it, as its own words.
"""
from __future__ import annotations

import re

from .tone import fallback_tone

PHRASES = {
    "concern": ("I hear you.", "I'm listening."),
    "sad": ("I hear you.", "Oh, I'm sorry.", "That sounds hard."),
    "fearful": ("I hear you.", "Okay, I'm here."),
    "angry": ("I hear you.", "That sounds frustrating."),
    "hard": ("That sounds hard.", "I hear you.", "Oh, that's tough."),
    "happy": ("Oh, that's lovely!", "Oh, nice!"),
    "greeting": ("Hi there!", "Hello!"),
    "thanks": ("You're welcome.", "Of course."),
    "question": ("Hmm, let me think.", "Mm, good question."),
    "neutral": ("Mm, I see.", "Okay.", "I see."),
}
_GREETING = re.compile(r"^\W*(hi|hello|hey|good (morning|afternoon|evening))\b", re.I)
_THANKS = re.compile(r"\b(thank you|thanks)\b", re.I)
_HARD = re.compile(r"\b(stress(ed|ful)?|tired|exhausted|hard time|difficult|struggl\w*|overwhelm\w*|yell\w*|fight|fought|"
                   r"broke up|divorce\w*|fired|laid off|sick|ill|hurts?|pain|can'?t (sleep|cope|take)|worst|awful|terrible|"
                   r"miserable|upset|rough)\b", re.I)


def kind_of(text: str, emotion: str | None, *, concern: bool) -> str:
    """Which kind of acknowledgement fits a turn, from its words' shape and the emotion heard."""
    if concern:
        return "concern"
    if emotion in ("sad", "fearful", "angry", "happy"):
        return emotion
    words = text.strip()
    if _HARD.search(words):
        return "hard"
    if _THANKS.search(words) and len(words.split()) <= 8:
        return "thanks"
    if _GREETING.search(words) and len(words.split()) <= 6:
        return "greeting"
    if words.endswith("?"):
        return "question"
    return "neutral"


def pick_opener(text: str, emotion: str | None, *, concern: bool = False, recent: list[str] = ()) -> tuple[str, str]:
    """(phrase, tone) for a reply to `text`; a phrase that opened one of the `recent` replies is avoided."""
    kind = kind_of(text, emotion, concern=concern)
    phrases = PHRASES[kind]
    fresh = [p for p in phrases if not any(r.startswith(p) for r in recent)]
    return (fresh or list(phrases))[0], _tone(kind, emotion)


def all_openers() -> list[tuple[str, str]]:
    """Every (phrase, tone) `pick_opener` can return, to render them ahead of time."""
    pairs = []
    for kind, phrases in PHRASES.items():
        emotion = kind if kind in ("sad", "fearful", "angry", "happy") else None
        pairs += [(p, _tone(kind, emotion)) for p in phrases]
    return pairs


def _tone(kind: str, emotion: str | None) -> str:
    return "gentle" if kind in ("concern", "hard") else fallback_tone(emotion)
