"""One conversation's history with roles, plus what is tracked across its turns."""
from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field

from .tracking import EmotionTrajectory, StageTracker
from .voice import VoiceCues

_ids = itertools.count(1)


@dataclass
class Turn:
    role: str  # "user" | "assistant"
    text: str
    item_id: str
    voice: VoiceCues | None = None
    emotion: str | None = None  # user: emotion heard; assistant: the tone it spoke with
    stage: str | None = None
    interrupted: bool = False
    meta: dict = field(default_factory=dict)


class Conversation:
    def __init__(self, *, max_messages: int = 16) -> None:
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        self.max_messages = max_messages
        self.turns: list[Turn] = []
        self.stages = StageTracker()
        self.trajectory = EmotionTrajectory()
        self.concern: list = []  # safety.Concern per responded user turn, in order

    @classmethod
    def from_history(cls, history: list[dict]) -> "Conversation":
        """Build from OpenAI-style [{"role", "content"|"text", "voice"?}, ...]."""
        conv = cls()
        for i, msg in enumerate(history):
            if not isinstance(msg, dict) or msg.get("role") not in ("user", "assistant"):
                raise ValueError(f"history[{i}] must be a dict with role 'user' or 'assistant': {msg!r}")
            text = msg.get("content", msg.get("text"))
            if not isinstance(text, str):
                raise ValueError(f"history[{i}] has no text content")
            if msg["role"] == "user":
                conv.add_user(text, voice=msg.get("voice"))
            else:
                conv.add_assistant(text, emotion=msg.get("emotion"))
        return conv

    def add_user(self, text: str, voice=None, item_id: str | None = None) -> Turn:
        if not isinstance(text, str):
            raise TypeError("user text must be a string")
        cues = VoiceCues.from_input(voice)
        point = self.trajectory.add(cues.emotion, text)
        turn = Turn("user", text.strip(), item_id or f"item_u{next(_ids)}", voice=cues, emotion=point.emotion,
                    stage=self.stages.update(text))
        self.turns.append(turn)
        return turn

    def add_assistant(self, text: str, item_id: str | None = None, emotion: str | None = None,
                      interrupted: bool = False) -> Turn:
        cut = next((t for t in reversed(self.turns) if item_id and t.item_id == item_id and t.interrupted), None)
        if cut is not None:  # the barge-in was recorded before the reply it cut (its model ran on a thread)
            cut.emotion = cut.emotion or emotion
            return cut
        turn = Turn("assistant", text.strip(), item_id or f"item_a{next(_ids)}", emotion=emotion,
                    interrupted=interrupted)
        self.turns.append(turn)
        return turn

    def find(self, item_id: str) -> Turn:
        for turn in reversed(self.turns):
            if turn.item_id == item_id:
                return turn
        raise KeyError(f"no turn with item_id {item_id!r}")

    def truncate(self, item_id: str, heard_text: str) -> Turn:
        """Barge-in: the assistant turn keeps only the words the person heard."""
        turn = self.find(item_id)
        if turn.role != "assistant":
            raise ValueError(f"item {item_id!r} is a {turn.role} turn; only assistant turns are truncated")
        heard = heard_text.strip()
        if not turn.text.startswith(heard):
            # The caller's words may differ in spacing or punctuation; keep as many of ours as it heard.
            heard = " ".join(turn.text.split()[:len(heard.split())])
        turn.text, turn.interrupted = heard, True
        return turn

    def catch_up(self, other: "Conversation", copied: int) -> None:
        """This is a copy of `other` taken when it had `copied` turns, and has since grown on its own. Take in what
        happened to `other` meanwhile: cuts to the turns both hold, and turns added there (placed before ours)."""
        theirs = {t.item_id: t for t in other.turns}
        for turn in self.turns[:copied]:
            if (newer := theirs.get(turn.item_id)) is not None:
                turn.text, turn.interrupted = newer.text, newer.interrupted
        known = {t.item_id for t in self.turns}
        self.turns[copied:copied] = [copy.deepcopy(t) for t in other.turns if t.item_id not in known]

    def forget_before(self, keep_turns: int) -> int:
        """Keep the last `keep_turns` turns (and their emotion and risk records), so a long call's memory stays
        bounded; the model only ever reads the last `max_messages` anyway. Escalations are kept however old: a
        crisis earlier in the call still shapes the replies. Returns how many turns were dropped."""
        drop = len(self.turns) - keep_turns
        if drop <= 0:
            return 0
        del self.turns[:drop]
        del self.trajectory.points[:max(0, len(self.trajectory.points) - keep_turns)]
        old, recent = self.concern[:-keep_turns], self.concern[-keep_turns:]
        self.concern = [c for c in old if c.escalate][-8:] + recent
        return drop

    @property
    def last_user(self) -> Turn | None:
        return next((t for t in reversed(self.turns) if t.role == "user"), None)

    def unanswered_user_turns(self) -> list[Turn]:
        """The user's turns since the agent last spoke: more than one when a reply never started because the
        user went on at once."""
        turns = []
        for t in reversed(self.turns):
            if t.role != "user" and t.text:  # a reply cut before its first word said nothing
                break
            if t.role == "user":
                turns.append(t)
        return turns[::-1]

    def agent_words_before(self, turn: Turn) -> str | None:
        """What the agent said (as heard) last before `turn`."""
        at = next((i for i, t in enumerate(self.turns) if t is turn), len(self.turns))
        before = self.turns[:at]
        return next((t.text for t in reversed(before) if t.role == "assistant" and t.text), None)

    @property
    def stage(self) -> str:
        return self.stages.stage

    def messages(self, *, then_user: str | None = None) -> list[dict]:
        """The recent history as chat messages; empty (fully interrupted) replies are left out.
        `then_user`: as it will be once the user's turn in progress (these words so far) is added.

        The window's start moves in steps of half its size, not one message per turn: the model's cache
        holds the history as a prefix, and a window that slid every turn would have to be read again whole."""
        msgs = [{"role": t.role, "content": t.text} for t in self.turns if t.text]
        if then_user and then_user.strip():
            msgs.append({"role": "user", "content": then_user.strip()})
        if len(msgs) > self.max_messages:
            step = max(1, self.max_messages // 2)
            drop = -(-(len(msgs) - self.max_messages) // step) * step
            msgs = msgs[drop:]
        while msgs and msgs[0]["role"] != "user":
            msgs.pop(0)
        return msgs
