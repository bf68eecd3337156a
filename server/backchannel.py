"""The agent's own backchannels: a short "mm-hm" while the user tells a long story.

Policy: only in a pause of a long user turn (`min_turn_ms` of speech so far), only once the pause has
lasted `pause_ms` and the words so far audibly trail off (so the turn is not about to end), never
more often than every `min_gap_ms`, and never while the user is speaking. The tone follows the user's
last known emotion.
"""
from __future__ import annotations

import random

PHRASES = {
    "gentle": ["Mm.", "Mm-hm."],
    "warm": ["Mm-hm.", "I see."],
    "calm": ["I see.", "Mm-hm."],
    "cheerful": ["Mm-hm!", "Oh, nice."],
}
TONE_FOR_EMOTION = {"sad": "gentle", "fearful": "gentle", "angry": "calm", "disgust": "calm",
                    "happy": "cheerful", "surprised": "cheerful"}


def tone_for(voice: dict | None) -> str:
    label = ((voice or {}).get("emotion") or {}).get("label") if isinstance((voice or {}).get("emotion"), dict) else None
    return TONE_FOR_EMOTION.get(label or "", "warm")


class BackchannelPlanner:
    def __init__(self, *, min_turn_ms: float = 4000, pause_ms: float = 550, min_gap_ms: float = 5000) -> None:
        self.min_turn_ms, self.pause_ms, self.min_gap_ms = min_turn_ms, pause_ms, min_gap_ms
        self._last_ms: float | None = None

    def should_backchannel(self, *, now_ms: float, turn_speech_ms: float, pause_ms: float, completeness: str) -> bool:
        if turn_speech_ms < self.min_turn_ms or pause_ms < self.pause_ms or completeness != "incomplete":
            return False
        if self._last_ms is not None and now_ms - self._last_ms < self.min_gap_ms:
            return False
        self._last_ms = now_ms
        return True


def pick(tone: str, rng: random.Random | None = None) -> tuple[str, str]:
    """(phrase, tts emotion) for a tone."""
    phrases = PHRASES.get(tone, PHRASES["warm"])
    return (rng or random).choice(phrases), tone
