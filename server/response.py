"""One reply, from a finished user turn to the last audio chunk, cancellable at every step.

ASR and voice analysis run first; then the dialogue model streams clauses while the voice speaks the
ones already complete, so the first sound does not wait for the whole reply. Audio leaves at the pace
it is played (plus a small lead), so the server always knows what the user has heard: a pause for a
possible interruption stops the sound within the lead, a resume re-sends from where playback stopped,
and a real barge-in cuts the history to the words that were played.

A reply can start speculatively, while the user is only pausing: it holds every event back until the
turn is confirmed (`release`), and is dropped without a trace if the user goes on.
"""
from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import copy
import logging
import threading
from contextlib import closing, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from websockets.exceptions import ConnectionClosed

from server.audio import StreamResampler, resample
from server.protocol import error_event, message_item, new_id
from server.timeline import TurnTimeline
from server.workers import ModelTimeout, WorkerBusy

if TYPE_CHECKING:
    from server.session import Session

log = logging.getLogger("warmline.response")
CHUNK_MS = 100  # audio per response.output_audio.delta
# Said when a model hangs or the workers are full mid-turn; rendered at start-up, so a hung voice can still say it.
APOLOGY = ("I'm sorry, I lost my train of thought for a moment. Could you say that again?", "gentle")


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


class PlaybackClock:
    """Where the client's playback is, in ms of this reply's audio, assuming it plays what it gets in real time."""

    def __init__(self) -> None:
        self._pos, self._wall, self.paused = 0.0, None, True

    def position(self, now_ms: float, sent_ms: float) -> float:
        if self.paused or self._wall is None:
            return min(self._pos, sent_ms)
        return min(self._pos + now_ms - self._wall, sent_ms)

    def play_from(self, pos_ms: float, now_ms: float) -> None:
        self._pos, self._wall, self.paused = pos_ms, now_ms, False

    def pause(self, now_ms: float, sent_ms: float) -> float:
        self._pos = self.position(now_ms, sent_ms)
        self.paused = True
        return self._pos

    def starved(self, now_ms: float, sent_ms: float) -> None:
        """The client ran out of audio at `sent_ms`; playback resumes from there when more arrives."""
        if not self.paused and self._wall is not None and self._pos + now_ms - self._wall > sent_ms:
            self._pos, self._wall = sent_ms, now_ms


class Response:
    def __init__(self, session: "Session", *, user_item: str | None, audio: np.ndarray | None,
                 timeline: TurnTimeline, create: bool = True, speculative: bool = False,
                 after: "Response | None" = None) -> None:
        self.session, self.user_item, self.audio, self.timeline, self.create = session, user_item, audio, timeline, create
        self.after = after  # a committed turn still being heard: this reply answers it, so it waits for its words
        self.heard = asyncio.Event()  # this turn's words (if any) are in the history
        self.id = new_id("resp")
        self.item_id = new_id("item")
        self.cancel_event = threading.Event()
        self.speaker = session.settings.voice  # a voice chosen mid-reply speaks from the next reply
        self.finished = False
        self.status = "in_progress"
        self.reason: str | None = None
        self.clauses: list[SpokenClause] = []
        self.transcript: str | None = None
        self.voice: dict | None = None
        self.reply_text, self.reply_emotion = "", "neutral"
        # A speculative reply works on its own copy of the history, which the session adopts when the turn is
        # confirmed; any other reply is confirmed already and works on the session's.
        self.conversation = copy.deepcopy(session.conversation) if speculative else session.conversation
        self._copied_turns = len(self.conversation.turns)
        self._held: list[dict] | None = [] if speculative else None
        self._released = asyncio.Event()
        if not speculative:
            self._released.set()
        self._created = False
        self._task: asyncio.Task | None = None
        # audio
        fmt = session.settings.output_format
        self._rate = fmt.rate
        self._audio = np.zeros(0, np.float32)  # everything synthesized so far, at the output rate
        self._synth_done = False
        self.sent_ms = 0.0
        self.clock = PlaybackClock()
        self._wake = asyncio.Event()
        self._first_audio_sent = False
        self._client_played_ms: float | None = None
        self._reading: asyncio.Task | None = None  # the model reading the turn's words during the voice analysis

    # --- control ----------------------------------------------------------------------------------
    @property
    def speculative(self) -> bool:
        return self._held is not None

    @property
    def audible(self) -> bool:
        """Sending audio right now (not paused, not finished)."""
        return self._first_audio_sent and not self.clock.paused and not self.finished

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"response-{self.id}")

    async def release(self) -> None:
        """The turn is confirmed: adopt this reply's history and let its events and audio out."""
        if self._held is None:
            return
        held, self._held = self._held, None
        self.conversation.catch_up(self.session.conversation, self._copied_turns)
        self.session.conversation = self.conversation
        for event in held:
            await self._send(event)
        self._released.set()
        if self._created and not self.finished and not self._first_audio_sent:
            await self.session.set_state("thinking")
        elif self.finished and self.status == "failed":
            await self.session.set_state("listening")

    async def cancel(self, reason: str) -> None:
        if self.finished:
            return
        self.reason = reason
        self.cancel_event.set()
        self._wake.set()
        if self._task and self._task is not asyncio.current_task():
            # Python 3.11's wait_for can swallow a cancellation that races its inner call; the reply then ran on
            # (seen: a caller's reader held 3 s and more, keepalive pings unanswered). Cancel until it ends.
            while not self._task.done():
                self._task.cancel()
                await asyncio.wait({self._task}, timeout=0.1)
            if not self._task.cancelled():
                self._task.exception()  # retrieved: a failure was logged where it happened

    def pause(self) -> float:
        """A possible interruption: stop sending; returns the playback position we stopped at."""
        return self.clock.pause(self.session.clock.now_ms(), self.sent_ms)

    def resume(self) -> None:
        """It was nothing: carry on from where playback stopped (clients dropped what was queued)."""
        pos = self._client_played_ms if self._client_played_ms is not None else self.clock.position(0, self.sent_ms)
        self.sent_ms = pos
        self._client_played_ms = None
        self.clock.play_from(pos, self.session.clock.now_ms())
        self._wake.set()

    async def interrupt(self) -> None:
        """A real barge-in: the reply ends where playback stopped."""
        if not self.clock.paused:
            self.pause()
        await self.cancel("turn_detected")

    def report_played(self, played_ms: float) -> None:
        """The client says how much of this reply it played (conversation.item.truncate)."""
        played = max(0.0, min(played_ms, self.sent_ms))
        self._client_played_ms = played
        if self.finished:
            self._cut_history()

    def played_ms(self) -> float:
        if self._client_played_ms is not None:
            return self._client_played_ms
        return self.clock.position(self.session.clock.now_ms(), self.sent_ms)

    # --- events -------------------------------------------------------------------------------------
    async def emit(self, event: dict) -> None:
        if self._held is not None:
            self._held.append(event)
        else:
            await self._send(event)

    async def _send(self, event: dict) -> None:
        await self.session.send(event)
        if event.get("type") == "warmline.escalation":  # sent: a later reply need not raise it again
            with suppress(KeyError):  # a turn already forgotten has nothing left to raise
                self.conversation.find(event["item_id"]).meta["escalation_sent"] = True

    # --- the work ---------------------------------------------------------------------------------
    async def _run(self) -> None:
        s = self.session
        try:
            if self.after is not None:
                await self.after.heard.wait()
                self.after = None  # let it go: a long chain of commits must not hold every turn's audio
            if self.audio is not None:
                await self._hear()
                if not self.transcript:
                    await self._released.wait()
                    await s.set_state("listening")
                    return
            if not self.create:
                return
            await self._open()
            await self._think_and_speak()
            self.status = "completed"
        except asyncio.CancelledError:
            self.status = "cancelled"
        except (ModelTimeout, WorkerBusy) as exc:  # a stage hung, or too many calls wait: say sorry, go on
            log.error("response %s: %s; apologising", self.id, exc)
            self.status = "failed"
            s.pipeline.faults["model_timeout" if isinstance(exc, ModelTimeout) else "workers_busy"] += 1
            await self.emit(error_event("model_timeout" if isinstance(exc, ModelTimeout) else "server_busy",
                                        f"{exc}; the agent apologised and the conversation goes on"))
            await self._apologise()
        except Exception as exc:  # one failed turn must not end the session
            if self.cancel_event.is_set():  # a stage honouring cancellation (e.g. asr Cancelled)
                self.status = "cancelled"
                return
            log.exception("response %s failed", self.id)
            self.status = "failed"
            s.pipeline.faults["turn_failed"] += 1
            # held back with the rest if speculative: the client hears of it when the turn is confirmed
            await self.emit(error_event("model_failed", f"this turn failed: {exc}; the agent apologised"))
            await self._apologise()
        finally:
            self.finished = True
            self.heard.set()
            self.cancel_event.set()
            try:
                if self._created and self._held is None:
                    await self._close()
                if self.status in ("completed", "failed") and s.state in ("thinking", "speaking"):
                    await s.set_state("listening")
            except ConnectionClosed:
                pass  # the caller left as the reply ended: nobody to tell

    async def _hear(self) -> None:
        s, p = self.session, self.session.pipeline
        self.timeline.mark("asr_start")
        words: concurrent.futures.Future = concurrent.futures.Future()
        beside = None
        if (p.analyser is not None and getattr(p.recognizer, "encoder", None) is None
                and p.workers["asr"].idle and p.workers["paralinguistics"].idle):
            # The recogniser keeps no encoder layers for the heads, so the analysis runs its own encoder pass: it
            # goes beside the recognition, not after it, and takes the words when they come. Only when both
            # workers are free: an analysis waiting for words must not hold up other sessions' analyses.
            beside = asyncio.ensure_future(p.workers["paralinguistics"].run(
                p.analyser.analyse, self.audio, baseline=s.baseline, transcript=lambda: words.result(timeout=120)))
            beside.add_done_callback(lambda f: f.cancelled() or f.exception())  # observed, also when not awaited
        try:
            transcript = await p.workers["asr"].run(p.recognizer.transcribe, self.audio, cancel=self.cancel_event,
                                                    timeout=s.config.model_timeout_s)
        except BaseException:
            words.set_result(None)  # heard nothing (failed or cancelled): the analysis learns nothing
            raise
        words.set_result(transcript.text.strip() or None)
        self.timeline.mark("transcript")
        self.transcript = transcript.text.strip()
        s.on_transcript(self)
        await self.emit({"type": "conversation.item.input_audio_transcription.completed", "item_id": self.user_item,
                         "content_index": 0, "transcript": self.transcript})
        if self.transcript and self.create and s.config.read_ahead and s.engine.can_prefill:
            # the model reads the words while the voice is analysed; the reply then finds them cached
            self._reading = asyncio.create_task(self._read_words(self.transcript))
        try:
            if p.analyser is not None and self.transcript:
                try:
                    profile = await asyncio.wait_for(asyncio.shield(beside), s.config.model_timeout_s) \
                        if beside is not None else await p.workers["paralinguistics"].run(
                            p.analyser.analyse, self.audio, encoder_states=transcript.encoder_states,
                            baseline=s.baseline, transcript=self.transcript, timeout=s.config.model_timeout_s)
                except (ModelTimeout, asyncio.TimeoutError):  # the words alone still get an answer
                    log.error("response %s: the voice analysis overran; the turn goes on without it", self.id)
                    s.pipeline.faults["analysis_timeout"] += 1
                else:
                    self.voice = profile.to_dict()
                    s.last_voice = self.voice
                    self.timeline.mark("analysis")
                    await self.emit({"type": "warmline.paralinguistics", "item_id": self.user_item, "result": self.voice})
        finally:
            # recognised words stay in the history even if the user speaks again before the reply starts: the
            # next reply then hears them too (and the safety check with it)
            if self.transcript:
                self.conversation.add_user(self.transcript, voice=self.voice, item_id=self.user_item)
            self.heard.set()

    async def _read_words(self, words: str) -> None:
        s = self.session
        try:
            await s.pipeline.workers["dialogue"].run_when_idle(lambda: s.engine.prefill(self.conversation, words))
        except Exception as exc:  # an optimisation: the reply reads the words itself
            log.debug("reading the words ahead failed: %s", exc)

    async def _open(self) -> None:
        self._created = True
        await self.emit({"type": "response.created", "response": self._response_obj()})
        await self.emit({"type": "response.output_item.added", "response_id": self.id, "output_index": 0,
                         "item": self._item("in_progress", "")})
        await self.emit({"type": "response.content_part.added", "response_id": self.id, "item_id": self.item_id,
                         "output_index": 0, "content_index": 0, "part": {"type": "output_audio", "transcript": ""}})
        if self._held is None:
            await self.session.set_state("thinking")

    async def _think_and_speak(self) -> None:
        from dialogue.engine import Assessment, Clause, Escalation, ModelTurn, ReplyDone

        s, p = self.session, self.session.pipeline
        clauses: asyncio.Queue = asyncio.Queue()

        async def handle(part, *, from_model: bool) -> None:
            if from_model:
                self.timeline.mark("first_token")
            if isinstance(part, Assessment):
                await self.emit({"type": "warmline.thinking", "response_id": self.id,
                                 "assessment": part.fields, "text": part.text})
            elif isinstance(part, Escalation):
                await self.emit({"type": "warmline.escalation", "response_id": self.id,
                                 "item_id": self.user_item, "category": part.category,
                                 "level": part.level, "severity": part.severity, "reason": part.reason,
                                 "resources": part.resources})
            elif isinstance(part, Clause):
                self.timeline.mark("first_clause")
                if not part.opener:
                    self.timeline.mark("first_model_clause")
                await clauses.put(part)
            elif isinstance(part, ReplyDone):
                self.reply_text, self.reply_emotion = part.text, part.emotion
                self.timeline.extra.update({k: v for k, v in part.timings.items() if k.startswith("prompt_")})

        async def think() -> None:
            # The reply's cheap start (the safety check, an escalation, the opener) runs on its own worker, so it
            # never queues behind other sessions' generations; the rest waits its turn for the dialogue model.
            reply = s.engine.respond(self.conversation, cancel=self.cancel_event, item_id=self.item_id,
                                     model_marker=True)

            def until_model():
                for part in reply:
                    if isinstance(part, ModelTurn):
                        return
                    yield part

            def with_model():
                with closing(reply):
                    yield from reply

            try:
                stall = s.config.model_timeout_s
                async for part in p.workers["safety"].stream(until_model, cancel=self.cancel_event, stall_timeout=stall):
                    await handle(part, from_model=False)
                if self.cancel_event.is_set():
                    reply.close()  # not running now: records what was said, without waiting for the model
                else:
                    async for part in p.workers["dialogue"].stream(with_model, cancel=self.cancel_event,
                                                                   stall_timeout=stall):
                        await handle(part, from_model=True)
            finally:
                await clauses.put(None)
            if not self.cancel_event.is_set() and not self.speculative:  # a held reply may yet be dropped
                s.prepare_next_turn(self.conversation)

        async def synthesize() -> None:
            voice = p.voice_named(self.speaker)
            resampler = StreamResampler(voice.sample_rate, self._rate)
            try:
                while (clause := await clauses.get()) is not None:
                    spoken = SpokenClause(clause.text, start_ms=len(self._audio) * 1000 / self._rate)
                    self.clauses.append(spoken)
                    await self.emit({"type": "response.output_audio_transcript.delta", "response_id": self.id,
                                     "item_id": self.item_id, "output_index": 0, "content_index": 0,
                                     "delta": clause.text + " "})
                    ready = p.rendered(clause.text, clause.emotion, self.speaker)
                    if not self.clauses[:-1]:
                        self.timeline.extra["first_clause_prerendered"] = int(ready is not None)
                    stream = _one(ready) if ready is not None else p.workers["tts"].stream(
                        lambda c=clause: voice.synthesize(c.text, emotion=c.emotion, cancel=self.cancel_event),
                        cancel=threading.Event(), stall_timeout=s.config.model_timeout_s)
                    async for chunk in stream:
                        if self.cancel_event.is_set():
                            break
                        samples = resampler(chunk if ready is not None else chunk.samples)
                        self.timeline.mark("audio_ready")  # held back until release if speculative
                        spoken.duration_ms += len(samples) * 1000 / self._rate
                        self._audio = np.concatenate([self._audio, samples])
                        self._wake.set()
                self._audio = np.concatenate([self._audio, resampler(np.zeros(0, np.float32), last=True)])
            finally:
                self._synth_done = True
                self._wake.set()

        thinker = asyncio.create_task(think())
        synth = asyncio.create_task(synthesize())
        sender = asyncio.create_task(self._send_paced())
        try:
            await asyncio.wait({thinker, synth, sender}, return_when=asyncio.FIRST_EXCEPTION)
            for task in (thinker, synth):  # a hung stage: apologise with what was said so far (see _run)
                if task.done() and not task.cancelled() and isinstance(task.exception(), (ModelTimeout, WorkerBusy)):
                    raise task.exception()
            await sender
            await asyncio.gather(thinker, synth)
        finally:
            for task in (thinker, synth, sender):
                if not task.done():
                    task.cancel()
            await asyncio.gather(thinker, synth, sender, return_exceptions=True)

    async def _send_paced(self) -> None:
        """Send audio as it is synthesized, never more than `lead_ms` ahead of playback."""
        s = self.session
        lead = s.pipeline.config.playout_lead_ms
        chunk = self._rate * CHUNK_MS // 1000
        await self._released.wait()
        while True:
            if self.cancel_event.is_set():
                # Python 3.11's wait_for can swallow a task cancellation that races its timeout; never wait on.
                raise asyncio.CancelledError
            total = len(self._audio)
            sent = int(round(self.sent_ms * self._rate / 1000))
            if self._synth_done and sent >= total:
                return
            now = s.clock.now_ms()
            if self._first_audio_sent and not self.clock.paused:
                self.clock.starved(now, self.sent_ms)
            ahead = self.sent_ms - self.clock.position(now, self.sent_ms) if self._first_audio_sent else 0.0
            ready = total - sent >= chunk or (self._synth_done and total > sent)
            if ready and not (self._first_audio_sent and self.clock.paused) and ahead < lead:
                await self._send_audio(self._audio[sent: sent + chunk])
                continue
            self._wake.clear()
            wait = None
            if ready and not self.clock.paused:
                wait = max((ahead - lead) / 1000, 0.005)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            except asyncio.TimeoutError:
                pass

    async def _send_audio(self, samples: np.ndarray) -> None:
        s = self.session
        now = s.clock.now_ms()
        if not self._first_audio_sent:
            self._first_audio_sent = True
            self.timeline.mark("first_audio")
            self.clock.play_from(0.0, now)
            await s.set_state("speaking")
        play_at = now + (self.sent_ms - self.clock.position(now, self.sent_ms))
        s.echo.add_reference(samples, self._rate, play_at)
        self.sent_ms += len(samples) * 1000 / self._rate
        delta = base64.b64encode(s.settings.output_format.encode(samples)).decode("ascii")
        await s.send({"type": "response.output_audio.delta", "response_id": self.id, "item_id": self.item_id,
                      "output_index": 0, "content_index": 0, "delta": delta})

    async def _apologise(self) -> None:
        """A stage hung or the workers are full: say so, kindly, with the clip rendered at start-up, after whatever
        was already said; the history keeps what was spoken, and the conversation goes on."""
        p = self.session.pipeline
        if self.audio is not None and self.transcript is None:
            self.transcript = ""  # heard nothing usable: the session may end the turn and take the apology
        if not self.create or self.cancel_event.is_set() and self.reason:
            return
        # rendered at start-up; if not (a warm-up failed), the voice renders it now, if it can
        found = await p.backchannel_clip(*APOLOGY, self.speaker)
        if found is None:
            return
        clip, rate = found
        if not self._created:
            await self._open()
        self.cancel_event = threading.Event()  # the stage's cancel is set; the apology itself is not cancelled
        self.clauses.append(SpokenClause(APOLOGY[0], start_ms=len(self._audio) * 1000 / self._rate,
                                         duration_ms=len(clip) * 1000 / rate))
        await self.emit({"type": "response.output_audio_transcript.delta", "response_id": self.id,
                         "item_id": self.item_id, "output_index": 0, "content_index": 0, "delta": APOLOGY[0]})
        self._audio = np.concatenate([self._audio, resample(clip, rate, self._rate)])
        self._synth_done = True
        self.reply_text, self.reply_emotion = " ".join(c.text for c in self.clauses), APOLOGY[1]
        try:
            self.conversation.find(self.item_id).text = self.reply_text
        except KeyError:
            self.conversation.add_assistant(self.reply_text, item_id=self.item_id, emotion=APOLOGY[1])
        try:
            await self._send_paced()
        except asyncio.CancelledError:
            self.status = "cancelled"
            raise

    # --- closing ------------------------------------------------------------------------------------
    def _cut_history(self) -> None:
        heard = heard_text(self.clauses, self.played_ms())
        try:
            self.conversation.truncate(self.item_id, heard)
        except KeyError:  # cancelled before the engine recorded the reply; if it still does, it finds this cut
            self.conversation.add_assistant(heard, item_id=self.item_id, emotion=self.reply_emotion, interrupted=True)
        if self.session.conversation is not self.conversation:  # a later reply's history holds this one by now
            try:
                self.session.conversation.truncate(self.item_id, heard)
            except KeyError:
                pass

    async def _close(self) -> None:
        s = self.session
        if self.status == "cancelled":
            self._cut_history()
            transcript = heard_text(self.clauses, self.played_ms())
        else:
            transcript = " ".join(c.text for c in self.clauses)
        self.timeline.mark("response_done")
        item = self._item("completed" if self.status == "completed" else "incomplete", transcript)
        try:
            for kind, extra in (("response.output_audio.done", {}),
                                ("response.output_audio_transcript.done", {"transcript": transcript}),
                                ("response.content_part.done",
                                 {"part": {"type": "output_audio", "transcript": transcript}})):
                await s.send({"type": kind, "response_id": self.id, "item_id": self.item_id,
                              "output_index": 0, "content_index": 0, **extra})
            await s.send({"type": "response.output_item.done", "response_id": self.id, "output_index": 0, "item": item})
            await s.send({"type": "response.done", "response": self._response_obj(item)})
            await s.send({"type": "warmline.turn.timings", "item_id": self.user_item, "response_id": self.id,
                          **self.timeline.to_dict(), "reply_emotion": self.reply_emotion})
        except Exception:  # the client is gone; nothing more to tell it
            log.debug("could not send the end of response %s", self.id, exc_info=True)

    def _item(self, status: str, transcript: str) -> dict:
        return message_item(self.item_id, "assistant", status, transcript)

    def _response_obj(self, item: dict | None = None) -> dict:
        details = None
        if self.status == "cancelled":
            details = {"type": "cancelled", "reason": self.reason or "client_cancelled"}
        elif self.status == "failed":
            details = {"type": "failed", "error": None}
        return {"object": "realtime.response", "id": self.id, "status": self.status, "status_details": details,
                "output": [item] if item else [], "output_modalities": ["audio"], "usage": None,
                "metadata": {"reply_emotion": self.reply_emotion}}


async def _one(samples: np.ndarray):
    """A phrase rendered ahead of time, as a stream of one chunk."""
    yield samples
