"""What the voice carries, normalised from whatever the caller has: nothing, one label, or a full
paralinguistic result. Anything not measured stays "unknown"; nothing is invented."""
from __future__ import annotations

from dataclasses import dataclass, field

EMOTIONS = ("neutral", "happy", "sad", "angry", "fearful", "surprised", "disgusted")
_EMOTION_SYNONYMS = {
    "fear": "fearful", "afraid": "fearful", "scared": "fearful", "anxious": "fearful", "fearfulness": "fearful",
    "anger": "angry", "mad": "angry", "frustrated": "angry", "joy": "happy", "happiness": "happy", "excited": "happy",
    "sadness": "sad", "surprise": "surprised", "disgust": "disgusted", "calm": "neutral", "neu": "neutral",
    "hap": "happy", "ang": "angry", "fea": "fearful", "dis": "disgusted", "sur": "surprised",
}
VOCAL_EVENTS = ("crying", "sobbing", "laughing", "sighing", "screaming", "shouting", "panting", "gasping",
                "coughing", "trembling", "whispering")
_EVENT_SYNONYMS = {"cry": "crying", "sob": "sobbing", "laugh": "laughing", "laughter": "laughing", "sigh": "sighing",
                   "scream": "screaming", "shout": "shouting", "pant": "panting", "heavy breathing": "panting",
                   "breathing heavily": "panting", "gasp": "gasping", "cough": "coughing", "whisper": "whispering"}
# Vocal events that raise crisis concern when the words already carry a signal.
DISTRESS_EVENTS = frozenset({"crying", "sobbing", "screaming", "panting", "gasping", "trembling"})


def canonical_emotion(label: str) -> str | None:
    key = label.strip().lower()
    return key if key in EMOTIONS else _EMOTION_SYNONYMS.get(key)


def canonical_event(label: str) -> str | None:
    key = label.strip().lower()
    return key if key in VOCAL_EVENTS else _EVENT_SYNONYMS.get(key)


@dataclass(frozen=True)
class VoiceCues:
    emotion: str | None = None
    confidence: float | None = None
    gender: str | None = None
    age_group: str | None = None
    events: tuple[str, ...] = ()
    style: str | None = None
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def distress(self) -> tuple[str, ...]:
        return tuple(e for e in self.events if e in DISTRESS_EVENTS)

    @classmethod
    def from_input(cls, voice: "VoiceCues | dict | str | None") -> "VoiceCues":
        if voice is None:
            return cls()
        if isinstance(voice, VoiceCues):
            return voice
        if isinstance(voice, str):
            return cls._from_label(voice)
        if isinstance(voice, dict):
            return cls._from_dict(voice)
        raise TypeError(f"voice must be None, a label or a paralinguistic result dict, not {type(voice).__name__}")

    @classmethod
    def _from_label(cls, label: str) -> "VoiceCues":
        if emotion := canonical_emotion(label):
            return cls(emotion=emotion)
        if event := canonical_event(label):
            return cls(events=(event,))
        raise ValueError(f"unknown voice label {label!r}: expected an emotion {EMOTIONS} "
                         f"or a vocal event {VOCAL_EVENTS}")

    @classmethod
    def _from_dict(cls, d: dict) -> "VoiceCues":
        emotion, conf = _label(d.get("emotion"))
        if emotion is not None:
            emotion = canonical_emotion(emotion) or emotion.lower()
        conf = d.get("emotion_confidence", conf)
        gender, _ = _label(d.get("gender"))
        age, _ = _label(d.get("age_group", d.get("age")))
        style = _style(d.get("style", d.get("speaking_style")))
        events = []
        for raw_event in _labels(d.get("vocal_events", d.get("events"))):
            events.append(canonical_event(raw_event) or raw_event.lower())
        return cls(emotion=emotion, confidence=None if conf is None else float(conf), gender=gender,
                   age_group=age, events=tuple(dict.fromkeys(events)), style=style, raw=d)

    def brief(self) -> str:
        """`describe` with the unknowns left out, for the model's per-turn note ("unknown" if nothing is)."""
        parts = []
        if self.emotion:
            parts.append(self.emotion + (f" {self.confidence:.2f}" if self.confidence is not None else ""))
        parts += list(self.events)
        if self.style and self.style != "usual":
            parts.append(self.style)
        who = " ".join(x for x in (self.gender, self.age_group) if x)
        if who:
            parts.append(who)
        return "; ".join(parts) or "unknown"

    def as_dict(self) -> dict:
        return {"emotion": self.emotion or "unknown", "confidence": self.confidence,
                "gender": self.gender or "unknown", "age_group": self.age_group or "unknown",
                "vocal_events": list(self.events), "style": self.style or "unknown"}

    def describe(self) -> str:
        emotion = self.emotion or "unknown"
        if self.emotion and self.confidence is not None:
            emotion += f" ({self.confidence:.2f})"
        events = ", ".join(self.events) if self.events else "none heard" if self.raw else "unknown"
        return (f"emotion {emotion}; events {events}; gender {self.gender or 'unknown'}; "
                f"age {self.age_group or 'unknown'}; style {self.style or 'unknown'}")


def _label(value) -> tuple[str | None, float | None]:
    """A field may be a label, {"label", "confidence"}, or a {label: probability} map."""
    if value is None or value == "" or value == {}:  # an analyser with nothing to say: unknown, not an error
        return None, None
    if isinstance(value, str):
        return (None, None) if value.lower() == "unknown" else (value, None)
    if isinstance(value, dict):
        if "label" in value:
            conf = value.get("confidence", value.get("score"))
            return _label(value["label"])[0], None if conf is None else float(conf)
        scores = {k: v for k, v in value.items() if isinstance(v, (int, float))}
        if scores:
            best = max(scores, key=scores.get)
            return best, float(scores[best])
    raise ValueError(f"cannot read a label from {value!r}")


FAST_SYL_S, SLOW_SYL_S = 6.0, 2.5  # syllables per second of sounding speech; read speech is ~4-5


def _style(value) -> str | None:
    """A style label as given, or the analyser's measured style (a dict of measures) in a few words:
    whispering, trembling, what differs from the speaker's usual (once there is a baseline), and
    otherwise only a clearly fast or slow rate (loudness and pitch mean nothing without a baseline)."""
    if not value or not isinstance(value, dict) or "label" in value:
        return _label(value)[0]
    words = [w for w in ("whispering", "trembling") if value.get(w)]
    relative = value.get("relative") or {}
    changed = [m["vs_usual"] for m in relative.values() if isinstance(m, dict) and m.get("vs_usual", "usual") != "usual"]
    if changed:
        words.append(" and ".join(changed) + " than usual")
    elif not relative and isinstance(value.get("rate_syl_s"), (int, float)):
        rate = value["rate_syl_s"]
        words += ["speaking fast"] if rate >= FAST_SYL_S else ["speaking slowly"] if 0 < rate <= SLOW_SYL_S else []
    return ", ".join(words) or "usual"


def _labels(value) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):  # {event: probability}
        return [k for k, v in value.items() if not isinstance(v, (int, float)) or v >= 0.5]
    out = []
    for item in value:
        label, _ = _label(item)
        if label:
            out.append(label)
    return out
