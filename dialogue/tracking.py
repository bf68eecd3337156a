"""Per-turn tracking of the helping conversation: its stage (DeepPsy-Agent's exploring -> insight ->
action) and the person's emotion trajectory (PsychēChat-style emotion shift)."""
from __future__ import annotations

import re
from dataclasses import dataclass

STAGES = ("exploring", "insight", "action")
STAGE_GUIDANCE = {
    "exploring": "listen, reflect their feeling, ask one open question",
    "insight": "help them name what lies underneath and reflect it back",
    "action": "help with one small, concrete next step",
}

_ACTION = re.compile(
    r"\b(what (should|can|do) i do|what do you (think|suggest)|how (do|can|should) i|any (advice|ideas|tips)|"
    r"next step|make a plan|a plan\b|plan to|i('ll| will| am going to|'m going to| could) (try|talk|call|ask|start|tell|write|go|stop)|"
    r"going to try|should i|help me (decide|figure|plan)|i want to (change|fix|start|stop))", re.I)
_INSIGHT = re.compile(
    r"\b(i (just )?(realize|realise|see now|understand now|notice|think it'?s because|guess it'?s because)|"
    r"maybe (it'?s|that'?s) (because|why)|that'?s why|it makes sense|now i (see|get it|understand)|"
    r"i think the (real )?(reason|problem)|deep down|it reminds me of|i always (feel|end up))", re.I)


class StageTracker:
    """Detects the stage from cue phrases; without a cue the stage stays where it was."""

    def __init__(self) -> None:
        self.stage = "exploring"
        self.history: list[str] = []

    @staticmethod
    def detect(text: str) -> str | None:
        if _ACTION.search(text):
            return "action"
        if _INSIGHT.search(text):
            return "insight"
        return None

    def update(self, text: str) -> str:
        self.stage = self.detect(text) or self.stage
        self.history.append(self.stage)
        return self.stage


VALENCE = {"happy": 1, "surprised": 0, "neutral": 0, "sad": -1, "angry": -1, "fearful": -1, "disgusted": -1}
_WORD_EMOTION = [
    ("sad", re.compile(r"\b(sad|lonely|alone|miss (him|her|them)|cry|cried|crying|grief|grieving|heartbroken|"
                       r"depressed|down|empty|hopeless|lost my|passed away|died)\b", re.I)),
    ("angry", re.compile(r"\b(angry|furious|mad at|pissed|so annoyed|fed up|hate|unfair|livid|rage)\b", re.I)),
    ("fearful", re.compile(r"\b(scared|afraid|terrified|anxious|panic|worried|nervous|frightened|dread)\b", re.I)),
    ("happy", re.compile(r"\b(happy|great news|excited|thrilled|glad|wonderful|amazing|love it|got the job|"
                         r"passed|so good|proud)\b", re.I)),
]


def emotion_from_words(text: str) -> str | None:
    for emotion, pattern in _WORD_EMOTION:
        if pattern.search(text):
            return emotion
    return None


@dataclass(frozen=True)
class EmotionPoint:
    emotion: str | None
    source: str  # "voice", "words" or "unknown"


class EmotionTrajectory:
    def __init__(self) -> None:
        self.points: list[EmotionPoint] = []

    def add(self, voice_emotion: str | None, text: str) -> EmotionPoint:
        if voice_emotion:
            point = EmotionPoint(voice_emotion, "voice")
        elif word := emotion_from_words(text):
            point = EmotionPoint(word, "words")
        else:
            point = EmotionPoint(None, "unknown")
        self.points.append(point)
        return point

    def shift(self) -> str:
        """How the person's state moved from the previous known emotion to now, in a few words."""
        known = [p.emotion for p in self.points if p.emotion]
        if not self.points or not self.points[-1].emotion:
            return "unknown"
        now = self.points[-1].emotion
        if len(known) < 2:
            return f"first reading: {now}"
        before = known[-2]
        if before == now:
            run = 1
            for e in reversed(known[:-1]):
                if e != now:
                    break
                run += 1
            return f"still {now} ({run} turns)"
        delta = VALENCE.get(now, 0) - VALENCE.get(before, 0)
        direction = "better" if delta > 0 else "worse" if delta < 0 else "changed"
        return f"{before} -> {now} ({direction})"
