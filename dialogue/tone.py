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


VOICE_TONE_MIN_CONFIDENCE = 0.5
GENERIC_TONES = ("warm", "neutral")
SOFT_NEEDS = ("comfort", "calm", "reassure", "safety")


def tone_for_voice(model_tone: str, *, need: str | None, emotion: str | None, confidence: float | None,
                   crisis: bool = False) -> tuple[str, str]:
    """The reply's tone, and whether the model or the voice chose it.

    The model picks a tone from the words and the note, but small models answer "warm" whatever the voice
    carries (the empathy suite: 0 of 22 sad deliveries got "gentle"). When the voice clearly carries an
    emotion and the model's tone is generic or does not suit it, the tone that emotion calls for wins;
    a cheerful voice never makes a reply to painful words cheerful. A cue without a confidence was given
    outright (a label) and counts as clear."""
    clear = confidence is None or confidence >= VOICE_TONE_MIN_CONFIDENCE
    if crisis or not clear or emotion in (None, "neutral") or emotion not in SUITABLE:
        return model_tone, "model"
    if model_tone not in GENERIC_TONES and suits(model_tone, emotion):
        return model_tone, "model"
    wanted = SUITABLE[emotion][0]
    if wanted == model_tone:
        return model_tone, "model"
    if wanted == "cheerful" and (need in SOFT_NEEDS or model_tone not in GENERIC_TONES):
        return model_tone, "model"
    return wanted, "voice"
