"""Crisis safety, in front of the model (screen, escalate, answer with resources) and behind it (drop what
crisis guidelines say never to say).

- `risk.py`: levels (none / concern / elevated / imminent), categories, the Concern value, the voice's distress.
- `rules.py`: the patterns (deterministic, < 1 ms). `scorer.py`: sentence embeddings and small heads trained
  on the development set (`train.py`). `answers.py`: an answer heard in the light of the agent's question.
  `screen.py`: these, the voice and the conversation together; `deadline.py`: a scorer call that hangs is given up.
- `model_check.py`: the dialogue model's second opinion where the screen is unsure (off by default).
- `probe.py`: a third scorer member, a linear probe on a dialogue model's hidden state (`train_probe.py`; off
  unless a heads file names it: on the embedded 0.5B it added nothing, benchmarks/RESULTS.md session 14).
- `resources.py`: crisis lines per locale. `guard.py`: the output guard.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from ..voice import VoiceCues
from . import answers
from .guard import forbidden, off_script
from .resources import LOCALES, _res
from .risk import CATEGORIES, ESCALATE, LEVEL_OF_SEVERITY, LEVELS, Concern, gravity, rank, voice_distress
from .rules import RULES
from .deadline import ScorerDeadline, ScorerOverran
from .model_check import ModelRiskCheck
from .scorer import RiskScorer
from .screen import RiskScreen

_PATTERNS_ONLY = RiskScreen()
log = logging.getLogger("warmline.safety")
_ASKABLE = tuple(answers.DIRECT_QUESTIONS)  # (the policy's `answers` field hides the module in its body)


def detect(text: str, voice: VoiceCues | None = None) -> Concern:
    """One turn through the patterns and the voice (no scorer): what any deployment gets at the least."""
    return _PATTERNS_ONLY.turn(text, voice)


def _severity(level: str) -> str:
    """The resource tables speak of low/medium/high; levels and those names are both accepted."""
    return {"concern": "low", "elevated": "medium", "imminent": "high"}.get(level, level)


@dataclass
class SafetyPolicy:
    """Per-deployment safety settings. `resources` overrides or extends the locale's entry."""
    locale: str = "en-US"
    resources: dict = field(default_factory=dict)
    scorer: RiskScorer | None = None  # the learned member; without it the screen is the patterns alone
    patterns: bool = True  # off only to measure the scorer alone
    answers: bool = True  # off only to measure the screen deaf to the agent's questions
    model_check: ModelRiskCheck | None = None  # the dialogue model's yes/no, in the screen's grey zone
    ask_about: tuple[str, ...] = _ASKABLE  # the categories the reply asks directly about
    faults: Counter = field(default_factory=Counter)  # a member that failed mid-call, by kind (the server's /metrics)
    scorer_deadline: ScorerDeadline | None = None  # bounds each scorer call; one shared by every session

    def __post_init__(self) -> None:
        if self.locale not in LOCALES and not self.resources:
            raise ValueError(f"no crisis resources for locale {self.locale!r}; known: {sorted(LOCALES)} "
                             "(or pass resources={'emergency': ..., 'crisis': {...}})")
        self.table = {**LOCALES.get(self.locale, {}), **self.resources}
        if "crisis" not in self.table or "emergency" not in self.table:
            raise ValueError("resources need at least 'emergency' (a number) and 'crisis' (a line)")
        self.screen = RiskScreen(scorer=self.scorer, patterns=self.patterns, answers=self.answers, faults=self.faults,
                                 deadline=self.scorer_deadline)
        # the scorer's grey zone: probabilities its `sensitive` operating point escalates and the default does not
        sensitive = (self.scorer.heads.get("operating_points") or {}).get("sensitive") if self.scorer else None
        self.ask_from = sensitive["crisis"] if sensitive else float("inf")

    def detect(self, text: str, voice: VoiceCues | None = None, *, asked: str | None = None,
               category: str | None = None) -> Concern:
        return self.screen.turn(text, voice, asked=asked, category=category)

    def assess(self, conv, *, prefix: list[dict] | None = None) -> Concern:
        """The concern for the conversation's latest user turn, recorded in it (`conv.concern`, each turn's
        `meta["safety"]`). Each is heard as an answer to what the agent said before it (as heard), and every user
        turn since the agent last spoke is screened, not only the last: when the
        user goes on at once, a turn's own reply never starts, and a crisis said in it must still be heard.
        Then the recent turns together (risk said across turns, risk that rises over a call), then, where the
        screen is unsure and a model check is set, the model's second opinion on `prefix` + the history (the
        engine passes its system prompt, so the question shares the reply's cached prefix)."""
        user = conv.last_user
        unanswered = conv.unanswered_user_turns()
        pending = [t for t in unanswered if "safety" not in t.meta] or [user]
        asked = conv.agent_words_before(pending[0])
        # the call's concern so far (the scorer's check-ins do not count: it marks one ordinary line in five)
        category = next((c.category for c in reversed(conv.concern) if c.category and (c.escalate or c.source != "scorer")), None)
        # A turn screened for a reply cut before its first word (the user went on at once) was never answered: its
        # concern stands with this reply, so an escalation that reply never sent (`escalation_sent`, marked by the
        # server when the event goes out) is raised now rather than lost.
        found = [t.meta["concern"] for t in unanswered
                 if t not in pending and "concern" in t.meta and not t.meta.get("escalation_sent")]
        for t in pending:
            found.append(self.detect(t.text, t.voice, asked=asked, category=category))
            t.meta["safety"], t.meta["concern"] = found[-1].level, found[-1]
        concern = max(reversed(found), key=gravity)  # the gravest; among equals the latest
        recent = [(t.text, t.voice, t.meta.get("safety", "none")) for t in conv.turns if t.role == "user" and t.text]
        concern = self.screen.conversation(recent, concern, conv.concern)
        if self.model_check is not None:
            try:
                concern = self.model_check.review([*(prefix or []), *conv.messages()], concern)
            except Exception:  # a second opinion that fails leaves the screen's own verdict, as when it is off
                log.exception("the dialogue model's risk check failed: the screen's verdict stands")
                self.faults["safety_model_check"] += 1
        conv.concern.append(concern)
        return concern

    def direct_question(self, conv, concern: Concern) -> str | None:
        """Where the screen is unsure, ask: the fixed question for the reply to end with, or None. Unsure: a
        concern (suicide, self-harm, hurting someone, being hurt: `ask_about`) that the patterns or the conversation
        raised, or words the scorer gave a crisis probability its `sensitive` operating point would escalate and the
        default does not. Not when the agent asked in its last three replies: once heard, the answer is read in the
        question's light."""
        if concern.escalate:
            return None
        if concern.level == "concern" and concern.source != "scorer":
            category = concern.category or "suicide"
        elif (concern.score or 0.0) >= self.ask_from:
            category = concern.category or concern.guess or "suicide"
        else:
            return None
        if category not in self.ask_about or category not in answers.DIRECT_QUESTIONS:
            return None
        said = [t.text for t in conv.turns if t.role == "assistant" and t.text][-3:]
        if any(answers.question(text) for text in said):
            return None
        return answers.DIRECT_QUESTIONS[category]

    def resources_for(self, category: str, level: str) -> list[dict]:
        t, severity = self.table, _severity(level)
        emergency = _res("Emergency services", t["emergency"], f"call {t['emergency']}")
        if category == "medical_emergency":
            return [emergency]
        if category == "abuse":
            return [r for r in (t.get("abuse"), emergency if severity == "high" else t["crisis"]) if r]
        if severity == "high":
            return [emergency, t["crisis"]]
        return [t["crisis"], emergency]

    def resource_sentence(self, category: str, level: str) -> str:
        t, severity = self.table, _severity(level)
        crisis, emergency = t["crisis"], t["emergency"]
        if category == "medical_emergency":
            return f"Please call {emergency} right now, or ask someone near you to call."
        if category == "abuse":
            line = t.get("abuse") or crisis
            first = f"If you are in danger right now, please call {emergency}. " if severity == "high" else ""
            return first + f"You can also reach the {line['name']}: {line['how']}."
        if category == "harm_to_others":
            return (f"If anyone is in danger right now, please call {emergency}. You can also talk it through "
                    f"with the {crisis['name']}: {crisis['how']}.")
        danger = f" If you are in danger right now, please call {emergency}." if severity == "high" else ""
        return f"You can reach the {crisis['name']}: {crisis['how']}.{danger}"

    def crisis_reply(self, category: str, level: str) -> list[str]:
        """A warm, fixed reply for an escalated turn, in clauses (the first one short and the same every time)."""
        opening = {
            "suicide": ["I'm really glad you told me.", "I'm here with you, and your life matters."],
            "self_harm": ["I'm really glad you told me.", "You deserve care right now, not more pain."],
            "harm_to_others": ["Thank you for telling me.", "It sounds like a lot is building up inside you."],
            "abuse": ["I'm so sorry this is happening.", "You don't deserve to be hurt, and your safety comes first."],
            "medical_emergency": ["This sounds serious.", "Your safety comes first."],
        }[category]
        ask = {"medical_emergency": "I'll stay right here with you while you call.",
               "harm_to_others": "Can you tell me if anyone is in danger right now?"}.get(category, "Are you safe right now?")
        return [*opening, self.resource_sentence(category, level), ask]

    def mentions_resource(self, text: str, category: str, level: str) -> bool:
        contacts = [r["contact"] for r in self.resources_for(category, level)]
        return any(c in text for c in contacts)


__all__ = ["CATEGORIES", "ESCALATE", "LEVELS", "LEVEL_OF_SEVERITY", "LOCALES", "RULES", "Concern", "ModelRiskCheck",
           "RiskScorer",
           "RiskScreen", "SafetyPolicy", "ScorerDeadline", "ScorerOverran", "detect", "forbidden", "gravity", "off_script",
           "rank", "voice_distress"]
