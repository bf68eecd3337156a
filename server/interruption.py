"""Is the user's sound over the agent's voice a real interruption?

The agent pauses at the first sign of user speech (so a real barge-in is heard at once), then this
policy decides from what the overlap turns out to be: speech that goes on past `max_backchannel_ms`,
or words that are not a backchannel, take the turn; a short "mm-hm", "yeah", "right", a cough, a laugh
or a sigh lets the agent carry on from where it paused.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

BACKCHANNEL_WORDS = {
    "o", "oh-oh", "mm", "mmm", "mhm", "mm-hm", "mm-hmm", "hmm", "hm", "uh-huh", "uh", "huh", "um", "yeah", "yes", "yep", "yup",
    "ok", "okay", "right", "sure", "i", "see", "oh", "ah", "wow", "really", "true", "good", "nice", "exactly",
    "totally", "got", "it", "alright", "all", "go", "on", "cool",
}
NON_SPEECH_EVENTS = {"coughing", "laughing", "sighing", "throat-clearing", "sneezing", "yawning", "lip-smacking",
                     "nose-blowing", "tongue-clicking", "lip-popping", "teeth-chattering", "panting"}
_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")


def is_backchannel(transcript: str) -> bool:
    words = _WORD.findall(transcript.lower())
    return len(words) <= 3 and all(w in BACKCHANNEL_WORDS for w in words)


@dataclass
class Overlap:
    started_ms: float  # in the user's audio stream
    speech_ms: float = 0.0
    ended: bool = False
    transcript: str | None = None  # known once the overlap has been recognised
    events: list[str] = field(default_factory=list)  # vocal events, where the analyser ran
    silent_ms: float = 0.0  # silence since it ended (while it is still being judged)


class InterruptionPolicy:
    def __init__(self, *, max_backchannel_ms: float = 900, resume_after_ms: float = 400) -> None:
        """`resume_after_ms`: the silence after a short sound before the agent carries on. Someone taking the
        floor often stops for a breath after the first syllable (too short to hear words in); the reply must
        not resume over what follows."""
        self.max_backchannel_ms, self.resume_after_ms = max_backchannel_ms, resume_after_ms

    def decide(self, overlap: Overlap) -> str:
        """'interrupt', 'resume' or 'wait' (not enough known yet)."""
        if overlap.speech_ms >= self.max_backchannel_ms:
            return "interrupt"
        if overlap.transcript is None:
            return "wait"
        words = overlap.transcript.strip()
        if words and not is_backchannel(words):
            # Real words. A vocal event detected beside a single word (a laugh heard as "ha") still counts
            # as a sound, but only once the sound has ended: mid-speech, words win.
            if overlap.ended and len(words.split()) <= 1 and any(e in NON_SPEECH_EVENTS for e in overlap.events):
                return "resume" if overlap.silent_ms >= self.resume_after_ms else "wait"
            return "interrupt"
        return "resume" if overlap.ended and overlap.silent_ms >= self.resume_after_ms else "wait"
