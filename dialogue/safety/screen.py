"""The screen: one turn's words (patterns and scorer) and the answer they give to the agent's question, the
voice (raises the prior, never lowers it), and the conversation (risk said across turns, risk that rises over a
call) become one Concern.

Recall first: the gravest member wins. A member's false alarm costs a warm check-in and an event a
counsellor can dismiss; a miss costs far more. A scorer that fails mid-call, or overruns its deadline, leaves the
patterns to screen that turn alone: the turn is still screened, and still answered.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace
from typing import Sequence

from . import answers, rules
from .deadline import ScorerDeadline, ScorerOverran
from .risk import ACUTE_EVENTS, LEVELS, Concern, gravity, rank, voice_distress
from .scorer import RiskScorer
from ..voice import VoiceCues

CONTEXT_TURNS = 3  # the user's latest turns read together for risk said across them
log = logging.getLogger("warmline.safety")


class RiskScreen:
    def __init__(self, *, scorer: RiskScorer | None = None, patterns: bool = True, answers: bool = True,
                 context_turns: int = CONTEXT_TURNS, corroborate_below: float | None = None,
                 faults: Counter | None = None, deadline: ScorerDeadline | None = None) -> None:
        """`patterns=False` leaves the scorer alone, `answers=False` reads a turn without the question before it
        (both for measuring; a deployment keeps every member). `corroborate_below`: a pattern's elevated verdict
        that the scorer gives a crisis probability below this is a concern (the reply asks) instead. `faults`:
        where a scorer failure is counted (`safety_scorer`, `safety_scorer_timeout`; the server's /metrics).
        `deadline`: bounds each scorer call (a call that hangs is a failure)."""
        if scorer is None and not patterns:
            raise ValueError("a screen needs the patterns, the scorer, or both")
        self.scorer, self.patterns, self.answers, self.context_turns = scorer, patterns, answers, context_turns
        self.corroborate_below = corroborate_below
        self.faults = faults if faults is not None else Counter()
        self.deadline = deadline

    def words(self, text: str, *, distressed: bool = False) -> Concern:
        """The gravest of the members on one text; the patterns name the reason where they agree."""
        found = [rules.match(text)] if self.patterns else []
        if self.scorer is not None and text.strip() and (scored := self._scored(text, distressed)) is not None:
            if self.patterns and scored.escalate and not found[0].escalate and rules.denies(text):
                # "I'm not suicidal, I just need to vent": the scorer reads a denial much as the thing denied, so
                # with no pattern behind it, it asks (a concern) rather than escalates
                scored = replace(scored, level="concern", reason=f"{scored.reason}, though they say they are safe")
            found.append(scored)
            unheard = (scored.score or 0.0) < (self.corroborate_below or 0.0) and not scored.escalate
            if self.patterns and unheard and found[0].level == "elevated":
                found[0] = replace(found[0], level="concern", reason=f"{found[0].reason}, which the scorer does not hear")
        best = max(found, key=gravity)  # the first (the patterns) among equals
        scored = next((c for c in found if c.score is not None), Concern())
        return Concern(best.category, best.level, best.reason, best.matched, source=best.source, score=scored.score,
                       guess=scored.guess)

    def _scored(self, text: str, distressed: bool) -> Concern | None:
        """The scorer's verdict, or None where it failed and the patterns can screen the turn alone."""
        try:
            if self.deadline is not None:
                return self.deadline.call(self.scorer.concern, text, distressed=distressed)
            return self.scorer.concern(text, distressed=distressed)
        except Exception as exc:
            if not self.patterns:
                raise
            if isinstance(exc, ScorerOverran):
                log.error("%s: this text is screened by the patterns alone", exc)
            else:
                log.exception("the crisis scorer failed: this text is screened by the patterns alone")
            self.faults[getattr(exc, "fault", "safety_scorer")] += 1
            return None

    def turn(self, text: str, voice: VoiceCues | None = None, *, asked: str | None = None,
             category: str | None = None) -> Concern:
        """One turn: the words, and the answer they give to what the agent `asked` just before (`category`: the
        conversation's, for a question that names none); then the voice raises what they carry (a concern
        becomes elevated; an acute sound such as screaming or panting makes a crisis imminent). A voice alone
        never makes a concern."""
        distress = voice_distress(voice)
        c = self.words(text, distressed=bool(distress))
        if asked and self.answers:
            heard = answers.hear(asked, text, context=category, fallback=c.category or c.guess)
            if gravity(heard) > gravity(c):
                c = replace(heard, score=c.score, guess=c.guess)
        if not distress or c.level == "none":
            return c
        level = c.level
        if level == "concern" and c.source == "scorer" and self.scorer is not None and "voice_raise" in self.scorer.thresholds:
            return replace(c, voice=distress)  # the scorer heard the voice already (its bias) and kept a concern
        if level == "concern":
            level = "elevated"
        elif level == "elevated" and ACUTE_EVENTS & set(distress):
            level = "imminent"
        return Concern(c.category, level, f"{c.reason}; voice: {', '.join(distress)}", c.matched, distress,
                       c.source, c.score, c.guess)

    def conversation(self, turns: Sequence[tuple[str, VoiceCues | None, str]], current: Concern,
                     earlier: Sequence[Concern] = ()) -> Concern:
        """`turns`: the user's recent turns as (text, voice, level each had alone), oldest first, the current
        ones last. Risk that only the turns together carry, or a concern after earlier ones, is raised."""
        # Rising: a concern the patterns heard, after another within the last turns. The scorer's concerns
        # (a gentle check-in at most) do not count: it marks one ordinary statement in five as one.
        said = [c for c in list(earlier)[-self.context_turns:] if c.level != "none" and c.source != "scorer"]
        if current.level == "concern" and current.source != "scorer" and said:
            return Concern(current.category, "elevated", current.reason + "; repeated across turns", current.matched,
                           current.voice, "rising", current.score, current.guess)
        window = list(turns)[-self.context_turns:]
        if len(window) > 1:
            together = self.turn(" ".join(t for t, _, _ in window), window[-1][1])
            alone = max(rank(level) for _, _, level in window)
            if rank(together.level) > max(alone, rank(current.level)) and together.escalate:
                return Concern(together.category, together.level, together.reason + "; said across turns",
                               together.matched, together.voice, "context", together.score, together.guess)
        return current


__all__ = ["RiskScreen", "LEVELS"]
