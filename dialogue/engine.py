"""The dialogue engine: safety check, pre-filled assessment, the model's short decision (need and
tone), then the reply streamed clause by clause for synthesis."""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

from tts.clauses import ClauseSplitter

from .base import ChatModel
from .conversation import Conversation, Turn
from .format import GRAMMARS, HEADER_GRAMMARS, MODES, ReplyParser
from .openers import pick_opener
from .prompts import crisis_guidance, system_prompt, turn_note
from .safety import Concern, SafetyPolicy, answers, forbidden, off_script
from .safety.risk import SEVERITY_OF
from .speech_text import spoken
from .tone import CRISIS_TONES, NEEDS, REPLY_EMOTIONS, fallback_need, fallback_tone, tone_for_voice
from .tracking import STAGE_GUIDANCE, emotion_from_words
from .voice import VoiceCues


@dataclass
class Assessment:
    fields: dict
    text: str


@dataclass
class Clause:
    text: str
    emotion: str
    opener: bool = False  # the acknowledgement said before the model's words (openers.py)


@dataclass
class Escalation:
    category: str
    level: str  # elevated | imminent (safety.LEVELS)
    reason: str
    resources: list[dict]

    @property
    def severity(self) -> str:
        """The level under the first protocol's name (medium | high), still sent beside it."""
        return SEVERITY_OF[self.level]

    def as_dict(self) -> dict:
        return {"category": self.category, "level": self.level, "severity": self.severity, "reason": self.reason,
                "resources": self.resources}


@dataclass
class ModelTurn:
    """Marks where the reply needs the dialogue model (with `respond(model_marker=True)`): what comes before
    (the safety check, an escalation, the opener) is cheap and can run while the model serves others."""


@dataclass
class ReplyDone:
    text: str
    emotion: str
    timings: dict
    format_valid: bool = True
    cancelled: bool = False
    dropped: list[str] = field(default_factory=list)  # why clauses were withheld by the safety layer


STOPS = ["<|im_end|>", "<|endoftext|>", "\nUser:", "\nuser:", "\n\n"]
_SENTENCE_END = re.compile(r"[.!?][\"')]*$")
EMPTY_REPLY = "I'm here, and I'm listening. Could you tell me a little more?"
ASK_MORE = "Could you tell me a little more?"


# what the reply asks about directly where the screen is unsure (safety.answers.DIRECT_QUESTIONS has the words)
_ASK = "be warm, and ask them gently and directly whether"
_DIRECTLY = {"suicide": f"They may be thinking of ending their life: {_ASK} they are.",
             "self_harm": f"They may be thinking of hurting themselves: {_ASK} they are.",
             "harm_to_others": f"They may be thinking of hurting someone: {_ASK} they are.",
             "abuse": f"Someone may be hurting them or making them afraid: {_ASK} someone is."}


class DialogueEngine:
    def __init__(self, chat_model: ChatModel, *, mode: str = "tags", safety: SafetyPolicy | None = None,
                 instructions: str | None = None, temperature: float = 0.6, max_sentences: int = 3,
                 max_tokens: int | None = None, use_grammar: bool = True, model_crisis_replies: bool = False,
                 openers: bool = False) -> None:
        """`model_crisis_replies`: let the model answer elevated turns (with crisis guidance,
        the output guard and the resource appended). Off by default: small models cannot be trusted
        there, so every escalated turn gets the fixed, warm reply with resources.
        `openers`: begin each reply with a short acknowledgement chosen before the model speaks
        (`openers.py`), which the model continues; only where the backend can continue a given start."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.model, self.mode = chat_model, mode
        self.safety = safety or SafetyPolicy()
        self.system_prompt = system_prompt(mode, instructions)
        self.temperature, self.max_sentences = temperature, max_sentences
        self.max_tokens = max_tokens or (90 if mode == "tags" else 200)
        self.use_grammar = use_grammar and getattr(chat_model, "supports_grammar", False)
        self.model_crisis_replies = model_crisis_replies
        self.openers = openers and self.use_grammar and getattr(chat_model, "supports_reply_start", False)

    def warm(self) -> None:
        self.model.warm([{"role": "system", "content": self.system_prompt}])

    @property
    def can_prepare(self) -> bool:
        """Whether `prepare` can save the next turn anything: the backend's prefix cache lasts between calls."""
        return bool(getattr(self.model, "keeps_prefix_cache", False))

    def prepare(self, conv: Conversation) -> bool:
        """Compute the model's cache for the conversation so far, between turns, so that the next turn
        evaluates only its own words and note (the reply just given would otherwise be evaluated then,
        ~25 ms a token on 2 cores). Only for a backend whose prefix cache lasts; True if it did work."""
        history = conv.messages()
        if not history or not self.can_prepare:
            return False
        self.model.warm([{"role": "system", "content": self.system_prompt}, *history])
        return True

    @property
    def can_prefill(self) -> bool:
        return self.can_prepare and hasattr(self.model, "prefill")

    def prefill(self, conv: Conversation, words: str) -> int:
        """Read the words of a turn still being spoken into the model's cache, behind the conversation so far,
        where the reply's prompt will have them. Tokens evaluated (0: nothing new, or no lasting cache)."""
        if not words.strip() or not self.can_prefill:
            return 0
        return self.model.prefill([{"role": "system", "content": self.system_prompt},
                                   *conv.messages(then_user=words)])

    def respond(self, conv: Conversation, *, cancel: threading.Event | None = None, item_id: str | None = None,
                model_marker: bool = False) -> Iterator[Assessment | Escalation | Clause | ModelTurn | ReplyDone]:
        cancel = cancel or threading.Event()
        t0 = time.perf_counter()
        user = conv.last_user
        if user is None:
            raise ValueError("the conversation has no user turn to respond to")
        concern = self.safety.assess(conv, prefix=[{"role": "system", "content": self.system_prompt}])
        fields = self._prefill(conv, user, concern)
        timings = {"safety_s": round(time.perf_counter() - t0, 4)}
        if concern.escalate:
            yield Escalation(concern.category, concern.level, concern.reason,
                             self.safety.resources_for(concern.category, concern.level))
        else:
            # Already escalated, but the reply was cut (barge-in) before the person heard where to get help:
            # this reply owes them the resources. The escalation event is not raised twice.
            concern = self._owed(conv) or concern
        turn = _Reply(conv, item_id, crisis=(concern.category, concern.level) if concern.escalate else None)
        try:
            if concern.level == "imminent" or (concern.escalate and not self.model_crisis_replies):
                yield from self._fixed(concern, fields, turn, timings, t0)
            else:
                yield from self._generated(conv, user, concern, fields, turn, timings, t0, cancel, model_marker)
        finally:
            turn.commit(interrupted=cancel.is_set())

    # -- the two ways to answer -------------------------------------------------------------------

    def _fixed(self, concern: Concern, fields: dict, turn: "_Reply", timings: dict, t0: float):
        tone = crisis_tone(concern.category)
        fields.update(need="safety", reply_emotion=tone, source="safety", format_valid=True)
        yield _assessment(fields)
        for i, clause in enumerate(self.safety.crisis_reply(concern.category, concern.level)):
            if i == 0:
                timings["first_clause_s"] = round(time.perf_counter() - t0, 4)
            turn.add(clause, tone)
            yield Clause(clause, tone)
        timings["total_s"] = round(time.perf_counter() - t0, 4)
        yield ReplyDone(turn.text, tone, timings)

    def _generated(self, conv, user: Turn, concern: Concern, fields: dict, turn: "_Reply", timings: dict,
                   t0: float, cancel: threading.Event, model_marker: bool = False):
        crisis = concern.escalate
        resource = self.safety.resource_sentence(concern.category, concern.level) if crisis else None
        ask = None if crisis else self.safety.direct_question(conv, concern)
        guidance = crisis_guidance(concern.category, resource) if crisis else (
            _DIRECTLY[answers.question(ask).category] if ask else "They may be struggling more than they say: gently ask how they are coping." if concern.category else None)
        messages = [{"role": "system", "content": self.system_prompt}, *conv.messages(),
                    {"role": "system", "content": turn_note(fields, crisis_guidance=guidance)}]
        kwargs, stops = {}, STOPS
        if self.use_grammar and self.mode == "tags" and getattr(self.model, "supports_header_choices", False):
            kwargs, stops = {"header_choices": [NEEDS, REPLY_EMOTIONS]}, STOPS + ["\n"]
        elif self.use_grammar and getattr(self.model, "supports_header_grammar", False):
            kwargs, stops = {"header_grammar": HEADER_GRAMMARS[self.mode]}, STOPS + ["\n"]
        elif self.use_grammar:
            kwargs = {"grammar": GRAMMARS[self.mode]}
        parser, splitter = ReplyParser(self.mode), ClauseSplitter(first_min_words=2)
        tone, dropped, sentences, tokens = None, [], 0, 0
        opener = self._opener(conv, user, concern) if self.openers and not crisis else None
        if opener is not None:
            phrase, opener_tone = opener
            timings["first_clause_s"] = round(time.perf_counter() - t0, 4)
            turn.add(phrase, opener_tone)
            yield Clause(phrase, opener_tone, opener=True)
            kwargs["reply_start"] = phrase
        said_by_model = False
        if model_marker:
            yield ModelTurn()
        stream = _nothing() if cancel.is_set() else self.model.stream(
            messages, max_tokens=self.max_tokens, temperature=self.temperature, stop=stops, cancel=cancel, **kwargs)

        def release(text: str, final: bool = False):
            nonlocal sentences, said_by_model
            clauses = splitter.push(text) + (splitter.flush() if final else [])
            for raw in clauses:
                clause = spoken(raw)
                if not clause:
                    continue
                if why := forbidden(clause) or off_script(clause, user.text):
                    dropped.append(why)
                    continue
                if "first_clause_s" not in timings:
                    timings["first_clause_s"] = round(time.perf_counter() - t0, 4)
                if not said_by_model:
                    said_by_model = True
                    timings["first_model_clause_s"] = round(time.perf_counter() - t0, 4)
                turn.add(clause, tone)
                sentences += bool(_SENTENCE_END.search(clause))
                yield Clause(clause, tone)

        try:
            for piece in stream:
                if cancel.is_set():
                    break
                tokens += 1
                if "first_token_s" not in timings:
                    timings["first_token_s"] = round(time.perf_counter() - t0, 4)
                    timings.update(getattr(self.model, "last_prompt", None) or {})
                text = parser.feed(piece)
                if tone is None and parser.parsed.header_done:
                    tone = self._decide(parser, user, fields, crisis)
                    timings["assessment_s"] = round(time.perf_counter() - t0, 4)
                    yield _assessment(fields)
                if text:
                    yield from release(text)
                if sentences >= self.max_sentences:
                    break
        finally:
            stream.close()
        timings["tokens"] = tokens
        if cancel.is_set():
            timings["total_s"] = round(time.perf_counter() - t0, 4)
            yield ReplyDone(turn.text, tone or fields.get("reply_emotion", "warm"), timings,
                            parser.parsed.valid, cancelled=True, dropped=dropped)
            return
        rest = parser.finish()
        if tone is None:
            tone = self._decide(parser, user, fields, crisis)
            timings["assessment_s"] = round(time.perf_counter() - t0, 4)
            yield _assessment(fields)
        yield from release(rest, final=True)
        if not said_by_model and not crisis:
            yield from release(ASK_MORE if turn.text else EMPTY_REPLY, final=True)
        if crisis and not self.safety.mentions_resource(turn.text, concern.category, concern.level):
            yield from release(("I'm really glad you told me. " if not turn.text else "") + resource, final=True)
        if ask and answers.question(turn.text) is None:  # the screen is unsure: the reply asks, in reviewed words
            yield from release(ask, final=True)
        timings["total_s"] = round(time.perf_counter() - t0, 4)
        yield ReplyDone(turn.text, tone, timings, parser.parsed.valid, dropped=dropped)

    def _opener(self, conv: Conversation, user: Turn, concern: Concern) -> tuple[str, str] | None:
        emotion = user.emotion if user.emotion not in (None, "neutral") else emotion_from_words(user.text)
        recent = [t.text for t in conv.turns if t.role == "assistant" and t.text][-2:]
        return pick_opener(user.text, emotion, concern=bool(concern.category), recent=recent)

    def _owed(self, conv: Conversation) -> Concern | None:
        """The latest crisis whose resources no reply since has let the person hear (None if heard)."""
        for t in reversed(conv.turns):
            if t.role != "assistant":
                continue
            if "crisis" in t.meta:
                category, level = t.meta["crisis"]
                if self.safety.mentions_resource(t.text, category, level):
                    return None
                return Concern(category, level, "an earlier crisis reply was cut before its resources")
        return None

    # -- assessment ---------------------------------------------------------------------------------

    def _prefill(self, conv: Conversation, user: Turn, concern: Concern) -> dict:
        earlier = [c for c in conv.concern[:-1] if c.escalate]
        concern_text = concern.describe()
        if earlier and not concern.category:
            concern_text = f"none now; earlier {earlier[-1].describe()}"
        return {"said": user.text, "voice": user.voice.as_dict(), "voice_summary": user.voice.describe(),
                "voice_brief": user.voice.brief(),
                "user_emotion": user.emotion or "unknown", "shift": conv.trajectory.shift(), "stage": conv.stage,
                "stage_guidance": STAGE_GUIDANCE[conv.stage], "concern": concern_text,
                "escalation": concern.as_event() if concern.escalate else None}

    def _decide(self, parser: ReplyParser, user: Turn, fields: dict, crisis: bool) -> str:
        header = parser.parsed.header
        tone = header.get("tone") or fallback_tone(user.emotion, crisis=crisis)
        if crisis and tone not in CRISIS_TONES:
            tone = fallback_tone(user.emotion, crisis=True)
        need = header.get("need") or ("safety" if crisis else fallback_need(user.emotion))
        voice = user.voice or VoiceCues()
        tone, tone_from = tone_for_voice(tone, need=need, emotion=voice.emotion, confidence=voice.confidence,
                                         crisis=crisis)
        fields.update(need=need, reply_emotion=tone, tone_from=tone_from, format_valid=parser.parsed.valid,
                      source="model" if parser.parsed.valid else "fallback")
        if "thought" in header:
            fields["thought"] = header["thought"]
        return tone


def _nothing():
    yield from ()


def crisis_tone(category: str) -> str:
    """The tone of the fixed reply to an escalated turn."""
    return "gentle" if category in ("suicide", "self_harm") else "calm"


def fixed_openings(safety: SafetyPolicy) -> list[tuple[str, str]]:
    """The first clause of every fixed crisis reply, with its tone: rendered ahead of time like the openers."""
    from .safety import CATEGORIES

    return [(safety.crisis_reply(c, "elevated")[0], crisis_tone(c)) for c in CATEGORIES]


def _assessment(fields: dict) -> Assessment:
    parts = [f"need {fields['need']}, tone {fields['reply_emotion']}"]
    if fields.get("thought"):
        parts.append(fields["thought"])
    parts += [f"voice: {fields['voice_summary']}", f"shift: {fields['shift']}", f"stage: {fields['stage']}",
              f"concern: {fields['concern']}"]
    public = {k: v for k, v in fields.items() if k not in ("voice_summary", "voice_brief", "stage_guidance")}
    return Assessment(dict(public), " | ".join(parts))


class _Reply:
    """Collects the spoken clauses and adds the assistant turn once, however the reply ends."""

    def __init__(self, conv: Conversation, item_id: str | None, *, crisis: tuple[str, str] | None = None) -> None:
        self.conv, self.item_id, self.crisis = conv, item_id, crisis
        self.clauses: list[str] = []
        self.emotion: str | None = None
        self._done = False

    def add(self, clause: str, emotion: str | None) -> None:
        self.clauses.append(clause)
        self.emotion = emotion

    @property
    def text(self) -> str:
        return " ".join(self.clauses)

    def commit(self, *, interrupted: bool) -> None:
        if not self._done:
            self._done = True
            turn = self.conv.add_assistant(self.text, item_id=self.item_id, emotion=self.emotion,
                                           interrupted=interrupted)
            if self.crisis:
                turn.meta["crisis"] = self.crisis  # (category, level): whether its resources were heard is read later
