"""One reply, from a finished user turn to the last audio chunk, cancellable at every step.

ASR and voice analysis run first (their results go to the client and into the history); then the
dialogue model streams clauses while the voice speaks the ones already complete, so the first
sound does not wait for the whole reply. Barge-in cancels both, and the history keeps only the part
of the reply the user actually heard.
"""
from __future__ import annotations

import asyncio
import base64
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from server.audio import StreamResampler
from server.protocol import new_id
from server.timeline import TurnTimeline

if TYPE_CHECKING:
    from server.session import Session

log = logging.getLogger("warmline.response")
CHUNK_MS = 100  # audio per response.output_audio.delta


@dataclass
class SpokenClause:
    text: str
    start_ms: float  # position in this reply's output audio
    duration_ms: float = 0.0


def heard_text(clauses: list[SpokenClause], played_ms: float) -> str:
    """The words of the reply that fit in the first `played_ms` of its audio (a clause cut part-way keeps
    the share of its words that was played)."""
    words: list[str] = []
    for clause in clauses:
        if played_ms >= clause.start_ms + clause.duration_ms:
            words += clause.text.split()
        elif played_ms > clause.start_ms and clause.duration_ms > 0:
            share = (played_ms - clause.start_ms) / clause.duration_ms
            clause_words = clause.text.split()
            words += clause_words[: int(len(clause_words) * share)]
            break
        else:
            break
    return " ".join(words)


class Response:
    def __init__(self, session: "Session", *, user_item: str | None, audio: np.ndarray | None,
                 timeline: TurnTimeline, create: bool = True) -> None:
        self.session, self.user_item, self.audio, self.timeline, self.create = session, user_item, audio, timeline, create
        self.id = new_id("resp")
        self.item_id = new_id("item")
        self.cancel_event = threading.Event()
        self.finished = False
        self.status = "in_progress"
        self.reason: str | None = None
        self.clauses: list[SpokenClause] = []
        self.sent_ms = 0.0
        self._first_audio_clock: float | None = None
        self._played_ms: float | None = None  # as reported by the client
        self._created = False
        self._task: asyncio.Task | None = None
        self.reply_text = ""
        self.reply_emotion = "neutral"

    # --- control ----------------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"response-{self.id}")

    async def cancel(self, reason: str) -> None:
        if self.finished:
            return
        self.reason = reason
        self.cancel_event.set()
        if self._task and self._task is not asyncio.current_task():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def interrupt(self) -> None:
        """Barge-in: the user started talking over this reply."""
        await self.cancel("turn_detected")
        await self.session.set_state("interrupted")

    def report_played(self, played_ms: float) -> None:
        self._played_ms = min(played_ms, self.sent_ms)
        if self.finished:
            self._cut_history()

    def played_estimate_ms(self) -> float:
        if self._played_ms is not None:
            return self._played_ms
        if self._first_audio_clock is None:
            return 0.0
        return min(self.sent_ms, self.session.clock.now_ms() - self._first_audio_clock)

    # --- the work ---------------------------------------------------------------------------------
    async def _run(self) -> None:
        s = self.session
        try:
            voice = None
            if self.audio is not None:
                text, voice = await self._hear()
                if not text:
                    await s.set_state("listening")
                    return
            if not self.create:
                await s.set_state("listening")
                return
            await self._open()
            await s.set_state("thinking")
            await self._think_and_speak()
            self.status = "completed"
        except asyncio.CancelledError:
            self.status = "cancelled"
        except Exception as exc:  # one failed turn must not end the session
            log.exception("response %s failed", self.id)
            self.status = "failed"
            await s.error("model_failed", f"this turn failed and was dropped: {exc}")
        finally:
            self.finished = True
            self.cancel_event.set()
            if self._created:
                await self._close()
            if self.status in ("completed", "failed") and s.state in ("thinking", "speaking"):
                await s.set_state("listening")

    async def _hear(self) -> tuple[str, dict | None]:
        s, p = self.session, self.session.pipeline
        transcript = await p.workers["asr"].run(p.recognizer.transcribe, self.audio, cancel=self.cancel_event)
        self.timeline.mark("transcript")
        text = transcript.text.strip()
        await s.send({"type": "conversation.item.input_audio_transcription.completed", "item_id": self.user_item,
                      "content_index": 0, "transcript": text})
        voice = None
        if p.analyser is not None and text:
            profile = await p.workers["paralinguistics"].run(
                p.analyser.analyse, self.audio, encoder_states=transcript.encoder_states, baseline=s.baseline)
            voice = profile.to_dict()
            self.timeline.mark("analysis")
            await s.send({"type": "warmline.paralinguistics", "item_id": self.user_item, "result": voice})
        if text:
            s.conversation.add_user(text, voice=voice, item_id=self.user_item)
        return text, voice

    async def _open(self) -> None:
        s = self.session
        self._created = True
        await s.send({"type": "response.created", "response": self._response_obj()})
        await s.send({"type": "response.output_item.added", "response_id": self.id, "output_index": 0,
                      "item": self._item("in_progress", "")})
        await s.send({"type": "response.content_part.added", "response_id": self.id, "item_id": self.item_id,
                      "output_index": 0, "content_index": 0, "part": {"type": "output_audio", "transcript": ""}})

    async def _think_and_speak(self) -> None:
        from dialogue.engine import Assessment, Clause, Escalation, ReplyDone

        s, p = self.session, self.session.pipeline
        clauses: asyncio.Queue = asyncio.Queue()

        async def think() -> None:
            try:
                stream = p.workers["dialogue"].stream(
                    lambda: s.engine.respond(s.conversation, cancel=self.cancel_event, item_id=self.item_id),
                    cancel=self.cancel_event)
                async for part in stream:
                    self.timeline.mark("first_token")
                    if isinstance(part, Assessment):
                        await s.send({"type": "warmline.thinking", "response_id": self.id,
                                      "assessment": part.fields, "text": part.text})
                    elif isinstance(part, Escalation):
                        await s.send({"type": "warmline.escalation", "response_id": self.id,
                                      "item_id": self.user_item, "category": part.category,
                                      "severity": part.severity, "reason": part.reason,
                                      "resources": part.resources})
                    elif isinstance(part, Clause):
                        self.timeline.mark("first_clause")
                        await clauses.put(part)
                    elif isinstance(part, ReplyDone):
                        self.reply_text, self.reply_emotion = part.text, part.emotion
            finally:
                await clauses.put(None)

        async def speak() -> None:
            out_fmt = s.settings.output_format
            resampler = StreamResampler(p.voice.sample_rate, out_fmt.rate)
            carry = np.zeros(0, np.float32)
            chunk_samples = out_fmt.rate * CHUNK_MS // 1000
            while (clause := await clauses.get()) is not None:
                spoken = SpokenClause(clause.text, start_ms=self.sent_ms + len(carry) * 1000 / out_fmt.rate)
                self.clauses.append(spoken)
                await s.send({"type": "response.output_audio_transcript.delta", "response_id": self.id,
                              "item_id": self.item_id, "output_index": 0, "content_index": 0,
                              "delta": clause.text + " "})
                stream = p.workers["tts"].stream(
                    lambda c=clause: p.voice.synthesize(c.text, emotion=c.emotion, cancel=self.cancel_event),
                    cancel=threading.Event())
                async for chunk in stream:
                    if self.cancel_event.is_set():
                        break
                    samples = resampler(chunk.samples)
                    spoken.duration_ms += len(samples) * 1000 / out_fmt.rate
                    carry = np.concatenate([carry, samples])
                    while len(carry) >= chunk_samples:
                        await self._send_audio(carry[:chunk_samples])
                        carry = carry[chunk_samples:]
            tail = np.concatenate([carry, resampler(np.zeros(0, np.float32), last=True)])
            if len(tail):
                await self._send_audio(tail)

        thinker = asyncio.create_task(think())
        try:
            await speak()
            await thinker
        finally:
            if not thinker.done():
                thinker.cancel()
                await asyncio.gather(thinker, return_exceptions=True)

    async def _send_audio(self, samples: np.ndarray) -> None:
        s = self.session
        if self._first_audio_clock is None:
            self.timeline.mark("first_audio")
            self._first_audio_clock = s.clock.now_ms()
            await s.set_state("speaking")
        self.sent_ms += len(samples) * 1000 / s.settings.output_format.rate
        delta = base64.b64encode(s.settings.output_format.encode(samples)).decode("ascii")
        await s.send({"type": "response.output_audio.delta", "response_id": self.id, "item_id": self.item_id,
                      "output_index": 0, "content_index": 0, "delta": delta})

    # --- closing ------------------------------------------------------------------------------------
    def _transcript(self) -> str:
        if self.status == "cancelled":
            return heard_text(self.clauses, self.played_estimate_ms())
        return " ".join(c.text for c in self.clauses)

    def _cut_history(self) -> None:
        conv = self.session.conversation
        heard = heard_text(self.clauses, self.played_estimate_ms())
        try:
            conv.truncate(self.item_id, heard)
        except KeyError:  # cancelled before the engine recorded the reply
            if heard:
                conv.add_assistant(heard, item_id=self.item_id, emotion=self.reply_emotion, interrupted=True)

    async def _close(self) -> None:
        s = self.session
        if self.status == "cancelled":
            self._cut_history()
        transcript = self._transcript()
        self.timeline.mark("response_done")
        item = self._item("completed" if self.status == "completed" else "incomplete", transcript)
        try:
            await s.send({"type": "response.output_audio.done", "response_id": self.id, "item_id": self.item_id,
                          "output_index": 0, "content_index": 0})
            await s.send({"type": "response.output_audio_transcript.done", "response_id": self.id,
                          "item_id": self.item_id, "output_index": 0, "content_index": 0, "transcript": transcript})
            await s.send({"type": "response.content_part.done", "response_id": self.id, "item_id": self.item_id,
                          "output_index": 0, "content_index": 0,
                          "part": {"type": "output_audio", "transcript": transcript}})
            await s.send({"type": "response.output_item.done", "response_id": self.id, "output_index": 0, "item": item})
            await s.send({"type": "response.done", "response": self._response_obj(item)})
            await s.send({"type": "warmline.turn.timings", "item_id": self.user_item, "response_id": self.id,
                          **self.timeline.to_dict(), "reply_emotion": self.reply_emotion})
        except Exception:  # the client is gone; nothing more to tell it
            log.debug("could not send the end of response %s", self.id, exc_info=True)

    def _item(self, status: str, transcript: str) -> dict:
        return {"id": self.item_id, "object": "realtime.item", "type": "message", "role": "assistant",
                "status": status, "content": [{"type": "output_audio", "transcript": transcript}]}

    def _response_obj(self, item: dict | None = None) -> dict:
        details = None
        if self.status == "cancelled":
            details = {"type": "cancelled", "reason": self.reason or "client_cancelled"}
        elif self.status == "failed":
            details = {"type": "failed", "error": None}
        return {"object": "realtime.response", "id": self.id, "status": self.status, "status_details": details,
                "output": [item] if item else [], "output_modalities": ["audio"], "usage": None,
                "metadata": {"reply_emotion": self.reply_emotion}}
