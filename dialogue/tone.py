"""The fixed sets the model chooses from, and which reply tone suits which state of the person."""
from __future__ import annotations

# Must stay within tts.base.EMOTIONS: the voice renders these.
REPLY_EMOTIONS = ("warm", "gentle", "calm", "reassuring", "cheerful", "serious", "neutral")
NEEDS = ("listen", "comfort", "reassure", "calm", "encourage", "celebrate", "inform", "plan", "safety")

# Tones that suit a person's emotion; the first is the fallback when the model gives none.
SUITABLE = {
    "sad": ("gentle", "warm"),
    "angry": ("calm", "serious"),
    "fearful": ("reassuring", "calm", "gentle"),
    "happy": ("cheerful", "warm"),
    "surprised": ("warm", "cheerful", "calm"),
    "disgusted": ("calm", "serious", "warm"),
    "neutral": ("warm", "neutral", "calm", "cheerful"),
}
CRISIS_TONES = ("gentle", "calm", "serious", "reassuring", "warm")


def suits(reply_emotion: str, user_emotion: str | None, *, crisis: bool = False) -> bool:
    if crisis:
        return reply_emotion in CRISIS_TONES
    return reply_emotion in SUITABLE.get(user_emotion or "neutral", SUITABLE["neutral"])


def fallback_tone(user_emotion: str | None, *, crisis: bool = False) -> str:
    if crisis:
        return "gentle"
    return SUITABLE.get(user_emotion or "neutral", SUITABLE["neutral"])[0]


def fallback_need(user_emotion: str | None) -> str:
    return {"sad": "comfort", "angry": "calm", "fearful": "reassure", "happy": "celebrate"}.get(user_emotion or "", "listen")
