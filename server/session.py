"""One conversation: its state, its history, its timers, and the cancellation of whatever is in flight.

Audio comes in through `feed_audio` (already decoded from the wire) and goes through VAD on every
32 ms frame, also while the agent speaks. What the controller does with it:
- the user pauses: a reply starts speculatively at once (recognition, analysis, dialogue, voice), held
  back until the silence is long enough to end the turn (`endpointing.py` decides how long, from the
  words so far); if the user goes on, the speculative reply is dropped;
- the user makes a sound while the agent speaks: unless it is the agent's own voice coming back
  (`echo.py`), the agent pauses at once; `interruption.py` then decides whether it was a barge-in (the
  reply ends where playback stopped, the history keeps what was heard) or a backchannel, a cough or a
  laugh (the agent carries on from where it paused).
Stages never call each other; this controller passes each result to the next and to the client.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Awaitable, Callable

import numpy as np

from asr.base import SAMPLE_RATE
from server.audio import StreamResampler, resample
from server.backchannel import BackchannelPlanner, pick, tone_for
from server.early_reading import TurnReader
from server.echo import EchoDetector
from server.endpointing import Endpointer, completeness
from server.interruption import InterruptionPolicy, Overlap
from server.pipeline import Pipeline
from server.protocol import ProtocolError, SessionSettings, error_event, message_item, new_id
from server.response import Response
from server.timeline import AudioArrival, Clock, TurnTimeline

log = logging.getLogger("warmline.session")

FRAME = 512  # Silero VAD frame at 16 kHz: 32 ms
FRAME_MS = FRAME * 1000 / SAMPLE_RATE
PRE_ROLL_MS = 400
MANUAL_BUFFER_MS = 60_000
ECHO_RECHECK_MS = 256
PARTIAL_OVERLAP_MS = 480  # recognise an overlap this long even before it ends
# No audio for this long, and for 3x the client's usual gap between sends: it stopped streaming, and wall time
# stands in for silence (a client that sends a second of audio each second has gaps of a second, not a stop).
# Long enough that a client or a loaded server stalling for a moment is not taken for it.
STOPPED_SENDING_MS = 1000
WAITING_MS = 250  # how long the transport must have found nothing to read before quiet counts

Send = Callable[[dict], Awaitable[None]]


@dataclass
class UserTurn:
    item_id: str
    timeline: TurnTimeline
    started_ms: float = 0.0
    frames: list[np.ndarray] = field(default_factory=list)
    paused_at: float | None = None  # audio ms where the current pause began; None while speaking
    required_silence_ms: float = 0.0
    speculative: Response | None = None
    reader: TurnReader | None = None  # reads the words into the model's cache while they are spoken
    dropped: int = 0  # speculative replies dropped because the user went on
    barged_in: bool = False  # began by talking over the agent


class Session:
    def __init__(self, pipeline: Pipeline, send: Send, *, settings: SessionSettings | None = None) -> None:
        from asr.vad import SpeechSegmenter
        from dialogue.conversation import Conversation
        from dialogue.engine import DialogueEngine

        cfg = self.config = pipeline.config
        self.pipeline, self._send = pipeline, send
        self.settings = settings or SessionSettings()
        if pipeline.voices:  # a session speaks in the server's default voice until it names another
            self.settings.voices = tuple(pipeline.voices)
            if self.settings.voice not in pipeline.voices:
                self.settings.voice = pipeline.default_voice
        self.settings.turn_detection.threshold = cfg.vad_threshold
        self.settings.turn_detection.silence_duration_ms = cfg.end_silence_ms
        self.clock = Clock()
        self.conversation = Conversation()
        self.engine = DialogueEngine(pipeline.chat_model, mode=cfg.dialogue_mode,
                                     safety=pipeline.safety_policy(), instructions=None, openers=cfg.openers)
        self.baseline = pipeline.analyser.new_baseline() if pipeline.analyser else None
        self.echo = EchoDetector()
        self.policy = InterruptionPolicy(max_backchannel_ms=cfg.max_backchannel_ms)
        self.backchannels = BackchannelPlanner()
        self.last_voice: dict | None = None  # the latest paralinguistic result, for the backchannels' tone
        self._vad_stream = pipeline.vad.stream()
        self._make_segmenter = lambda: SpeechSegmenter(
            threshold=self.settings.turn_detection.threshold, end_silence_ms=cfg.pause_ms,
            min_speech_ms=cfg.min_speech_ms)
        self._segmenter = self._make_segmenter()
        self._endpointer = self._make_endpointer()
        self._resampler = StreamResampler(self.settings.input_format.rate, SAMPLE_RATE)
        self._pending = np.zeros(0, np.float32)  # 16 kHz samples not yet a full VAD frame
        self._audio_ms = 0.0  # position in the user's 16 kHz stream
        self._arrival = AudioArrival()
        self._preroll: list[np.ndarray] = []
        # with turn detection off: the frames since the last commit or clear (a commit hears at most the last minute)
        self._manual: deque[np.ndarray] = deque(maxlen=int(MANUAL_BUFFER_MS / FRAME_MS))
        self._hearing: Response | None = None  # the last turn the client committed itself, not yet answered
        self._turn: UserTurn | None = None
        self._overlap: Overlap | None = None
        self._overlap_frames: list[np.ndarray] = []
        self._overlap_item: str | None = None
        self._overlap_task: asyncio.Task | None = None
        self._overlap_partial_done = False
        self._echo_segment_checked_at: float | None = None  # audio ms; set while a segment is the agent's echo
        self.state = "listening"
        self.response: Response | None = None
        self._recent_responses: dict[str, Response] = {}  # by assistant item id, so late truncates still apply
        self._closed = False
        self._preparing: asyncio.Task | None = None  # held so the task is not collected mid-way
        self._last_audio_wall = 0.0
        self._send_gap_ms = 0.0  # the client's recent largest gap between audio messages, decaying
        # Set by a transport that says when it waits on the client with nothing left to read (`reading`): only
        # then is quiet the client's. A server slow to read (a busy worker, its own throttling) leaves audio
        # waiting in the socket, and must not take its own delay for the caller's silence.
        self._waiting_since: float | None = None
        self._reports_reading = False
        self._watch: asyncio.Task | None = None

    def _make_endpointer(self) -> Endpointer:
        cfg = self.config
        return Endpointer(complete_ms=min(cfg.complete_silence_ms, self.settings.turn_detection.silence_duration_ms),
                          unknown_ms=self.settings.turn_detection.silence_duration_ms,
                          incomplete_ms=max(cfg.incomplete_silence_ms, self.settings.turn_detection.silence_duration_ms))

    # --- outgoing ---------------------------------------------------------------------------------
    async def send(self, event: dict) -> None:
        if not self._closed:
            await self._send(event)

    async def set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            await self.send({"type": "warmline.state", "state": state})

    async def error(self, code: str, message: str, event_id: str | None = None) -> None:
        await self.send(error_event(code, message, event_id=event_id))

    # --- client events ------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.send({"type": "session.created", "session": self.settings.to_dict()})
        await self.send({"type": "warmline.state", "state": self.state})
        self._watch = asyncio.create_task(self._end_turns_when_audio_stops())

    async def _end_turns_when_audio_stops(self) -> None:
        """Turns end on audio time, which stands still when a client stops streaming after it speaks (a script that
        sends a recording and waits): then the wall clock since the last audio counts as silence too."""
        woke = self.clock.now_ms()
        while not self._closed:
            await asyncio.sleep(0.1)
            late, woke = self.clock.now_ms() - woke > 250, self.clock.now_ms()
            if late:  # this process stalled: audio that arrived meanwhile may not be read yet
                continue
            if self._reports_reading and (self._waiting_since is None
                                          or self.clock.now_ms() - self._waiting_since < WAITING_MS):
                continue  # the audio may be there, unread
            quiet = self.clock.now_ms() - self._last_audio_wall
            if self._overlap is not None and self._overlap.ended:
                await self._judge_ended_overlap(quiet_ms=quiet)
            turn = self._turn
            if turn is None or turn.paused_at is None or quiet < max(STOPPED_SENDING_MS, 3 * self._send_gap_ms):
                continue
            spec = turn.speculative
            heard = spec is not None and (spec.transcript is not None or spec.finished)
            if heard and self._audio_ms - turn.paused_at + quiet >= turn.required_silence_ms:
                await self._commit_turn()

    def reading(self, waiting: bool) -> None:
        """The transport waits on the client with nothing left to read (True), or has a message (False)."""
        self._reports_reading = True
        self._waiting_since = self.clock.now_ms() if waiting else None

    async def handle(self, event: dict) -> None:
        kind, eid = event["type"], event.get("event_id")
        try:
            if kind == "session.update":
                await self._update_session(event.get("session"))
            elif kind == "input_audio_buffer.append":
                audio = event.get("audio")
                if not isinstance(audio, str):
                    raise ProtocolError("invalid_audio", "input_audio_buffer.append needs base64 'audio'")
                await self.feed_wire_audio(_b64decode(audio, self.config.max_audio_bytes_per_append))
            elif kind == "input_audio_buffer.commit":
                await self._commit_manual()
            elif kind == "input_audio_buffer.clear":
                await self._drop_turn()
                self._preroll = []
                self._manual.clear()
                self._segmenter = self._make_segmenter()
                await self.send({"type": "input_audio_buffer.cleared"})
            elif kind == "conversation.item.create":
                await self._create_item(event.get("item"))
            elif kind == "conversation.item.truncate":
                await self._truncate(event)
            elif kind == "conversation.item.retrieve":
                await self._retrieve_item(event.get("item_id"))
            elif kind == "conversation.item.delete":
                raise ProtocolError("invalid_event", "conversation.item.delete is not supported")
            elif kind == "response.create":
                hearing, self._hearing = self._hearing, None  # the committed turn this reply answers, if any
                await self._start_response(user_item=hearing.user_item if hearing else None,
                                           timeline=hearing.timeline if hearing else TurnTimeline(self.clock),
                                           audio=None, after=hearing)
            elif kind == "response.cancel":
                if not self.response or self.response.finished:
                    raise ProtocolError("no_active_response", "there is no response in progress to cancel")
                self.response.pause()
                await self.response.cancel("client_cancelled")
            elif kind == "warmline.playback":
                response = self._recent_responses.get(_item_id(event))
                if response and event.get("state") == "started":
                    response.timeline.mark("playback_confirmed")
        except ProtocolError as exc:
            await self.error(exc.code, exc.message, exc.event_id or eid)

    async def _update_session(self, payload: object) -> None:
        old_rate, old_detection = self.settings.input_format.rate, self.settings.turn_detection.type
        self.settings.update(payload)
        if self.settings.turn_detection.type != old_detection:
            self._manual.clear()
        if self.settings.input_format.rate != old_rate:
            self._resampler = StreamResampler(self.settings.input_format.rate, SAMPLE_RATE)
        self._segmenter = self._make_segmenter()
        self._endpointer = self._make_endpointer()
        await self.send({"type": "session.updated", "session": self.settings.to_dict()})

    async def _create_item(self, item: object) -> None:
        if not isinstance(item, dict) or item.get("type") != "message" or item.get("role") not in ("user", "assistant", "system"):
            raise ProtocolError("invalid_event", "conversation.item.create needs a message item with a role")
        parts = item.get("content") or []
        if not isinstance(parts, list):
            raise ProtocolError("invalid_event", "a message's content is a list of parts")
        said = [p.get("text") or p.get("transcript") or "" for p in parts if isinstance(p, dict)]
        if not all(isinstance(t, str) for t in said):
            raise ProtocolError("invalid_event", "a content part's text must be a string")
        text = " ".join(said).strip()
        if not text:
            raise ProtocolError("invalid_event", "the message has no text content")
        item_id = item.get("id") or new_id("item")
        if item["role"] == "user":
            self.conversation.add_user(text, voice=None, item_id=item_id)
        else:
            self.conversation.add_assistant(text, item_id=item_id)
        await self.send({"type": "conversation.item.added", "previous_item_id": None,
                         "item": {**item, "id": item_id, "status": "completed"}})

    async def _retrieve_item(self, item_id: object) -> None:
        try:
            turn = self.conversation.find(item_id)
        except KeyError:
            raise ProtocolError("unknown_item", f"no item {item_id!r} in this conversation") from None
        await self.send({"type": "conversation.item.retrieved", "item": message_item(
            turn.item_id, turn.role, "incomplete" if turn.interrupted else "completed", turn.text)})

    async def _truncate(self, event: dict) -> None:
        item_id, played = _item_id(event), event.get("audio_end_ms")
        if not isinstance(played, (int, float)) or not math.isfinite(played) or played < 0:
            raise ProtocolError("invalid_event", "conversation.item.truncate needs a non-negative audio_end_ms")
        response = self._recent_responses.get(item_id)
        if response is not None:
            response.report_played(float(played))
        else:
            try:
                turn = self.conversation.find(item_id)
            except KeyError:
                raise ProtocolError("unknown_item", f"no item {item_id!r} in this conversation") from None
            if turn.role != "assistant":
                raise ProtocolError("invalid_event", f"item {item_id!r} is not an assistant item")
            if played == 0:
                self.conversation.truncate(item_id, "")
        await self.send({"type": "conversation.item.truncated", "item_id": item_id, "content_index": 0,
                         "audio_end_ms": int(played)})

    # --- audio ----------------------------------------------------------------------------------------
    async def feed_wire_audio(self, data: bytes) -> None:
        from server.formats import FormatError

        fmt = self.settings.input_format
        if len(data) % fmt.bytes_per_sample:
            raise ProtocolError("invalid_audio", f"{fmt.type} audio must be whole samples; got {len(data)} bytes")
        try:
            samples = fmt.decode(data)
        except (FormatError, ValueError) as exc:
            raise ProtocolError("invalid_audio", str(exc)) from None
        await self.feed_audio(self._resampler(samples))

    async def feed_audio(self, samples16k: np.ndarray) -> None:
        buf = np.concatenate([self._pending, samples16k]) if self._pending.size else samples16k
        n = len(buf) // FRAME
        self._pending = buf[n * FRAME:].copy()
        now = self.clock.now_ms()
        if self._last_audio_wall:
            self._send_gap_ms = max(now - self._last_audio_wall, 0.95 * self._send_gap_ms)
        self._last_audio_wall = now
        self._arrival.add(self._audio_ms + (n * FRAME + len(self._pending)) * 1000 / SAMPLE_RATE, now)
        if n == 0:
            return
        frames = buf[: n * FRAME].reshape(n, FRAME)
        probs = await self.pipeline.workers["vad"].run(lambda: [self._vad_stream.probability(f) for f in frames])
        for i, (frame, prob) in enumerate(zip(frames, probs)):
            frame_wall = now - (n - i) * FRAME_MS
            self.echo.add_mic(frame, SAMPLE_RATE, frame_wall + FRAME_MS)
            await self._on_frame(frame, float(prob), frame_wall)

    async def _on_frame(self, frame: np.ndarray, prob: float, frame_wall: float) -> None:
        start_ms = self._audio_ms
        self._audio_ms += FRAME_MS
        if self.settings.turn_detection.type is None:
            self._manual.append(frame)
            return
        if self._overlap is not None:
            self._overlap_frames.append(frame)
        elif self._turn is not None:
            self._turn.frames.append(frame)
            if self._turn.reader is not None and self._turn.paused_at is None:
                self._turn.reader.offer(self._turn.frames, len(self._turn.frames) * FRAME_MS)
        else:
            self._preroll.append(frame)
            if len(self._preroll) > PRE_ROLL_MS / FRAME_MS:
                self._preroll.pop(0)
        for ev in self._segmenter.update(prob, start_ms):
            if ev.kind == "speech_start":
                await self._on_speech_start(ev.at_ms, frame_wall)
            else:
                await self._on_pause(ev.at_ms)
        await self._tick(frame_wall)

    async def _tick(self, now_wall: float) -> None:
        """Timers that run on audio time: echo re-checks, overlap decisions, the end of the turn."""
        if self._echo_segment_checked_at is not None and self._audio_ms - self._echo_segment_checked_at >= ECHO_RECHECK_MS:
            self._echo_segment_checked_at = self._audio_ms
            if not self.echo.is_echo():  # the user's voice has joined the echo
                self._echo_segment_checked_at = None
                await self._on_speech_start(self._audio_ms - ECHO_RECHECK_MS, now_wall)
        if self._overlap is not None and not self._overlap.ended:
            self._overlap.speech_ms = self._audio_ms - self._overlap.started_ms
            if self._overlap.speech_ms >= PARTIAL_OVERLAP_MS and not self._overlap_partial_done:
                self._overlap_partial_done = True
                self._classify_overlap()
            await self._decide_overlap()
        elif self._overlap is not None:
            await self._judge_ended_overlap()
        turn = self._turn
        if turn is not None and turn.paused_at is not None:
            spec = turn.speculative
            heard = spec is not None and (spec.transcript is not None or spec.finished)
            pause = self._audio_ms - turn.paused_at
            if heard and pause >= turn.required_silence_ms:
                await self._commit_turn()
            elif self._backchannels_enabled() and self.backchannels.should_backchannel(
                    now_ms=self._audio_ms, turn_speech_ms=turn.paused_at - turn.started_ms, pause_ms=pause,
                    completeness=completeness(spec.transcript if spec else None)):
                await self._send_backchannel()

    async def _on_speech_start(self, at_ms: float, now_wall: float) -> None:
        if self._overlap is not None:
            # The user goes on after a breath while what they said over the agent is still being judged: the same
            # overlap, not a new turn (a new turn here would leave the first words to be answered on their own,
            # over the rest of the sentence).
            self._overlap.ended, self._overlap.silent_ms = False, 0.0
            return
        agent_talking = (self.response is not None and self.response.audible
                         and self.settings.turn_detection.interrupt_response)
        if agent_talking or (self.response is not None and self.echo.playing_recently(now_wall, 400)
                             and not self.response.finished):
            score = self.echo.score()
            log.debug("speech over the agent's voice: echo score %.2f", score)
            if score >= self.echo.threshold:
                self._echo_segment_checked_at = self._audio_ms
                return
            if agent_talking:
                await self._start_overlap(at_ms)
                return
        if self._turn is not None and self._turn.paused_at is not None:
            # The user goes on after a pause: same turn; a speculative reply is dropped unheard.
            self._turn.paused_at = None
            self._turn.dropped += self._turn.speculative is not None
            await self._drop_speculation(self._turn)
            if self._turn.reader is not None:
                self._turn.reader.resume()
            await self.set_state("user_speaking")
            return
        if self._turn is None:
            if self.response is not None and not self.response.finished:
                # The user speaks again before the reply is heard: that reply answers a stale turn.
                self.response.pause()
                await self.response.cancel("turn_detected")
            await self._begin_turn(new_id("item"), at_ms, frames=list(self._preroll))
            self._preroll = []

    async def _begin_turn(self, item_id: str, at_ms: float, *, frames: list[np.ndarray]) -> None:
        self.conversation.forget_before(self.config.max_history_turns)  # no speculative copy is alive here
        timeline = TurnTimeline(self.clock)
        timeline.mark("speech_start", self._arrival.wall_ms(at_ms))
        self._turn = UserTurn(item_id, timeline, started_ms=at_ms, frames=frames)
        if self.config.read_ahead and self.engine.can_prefill:
            self._turn.reader = TurnReader(recognizer=self.pipeline.recognizer, engine=self.engine,
                                           workers=self.pipeline.workers, conversation=lambda: self.conversation)
        await self.send({"type": "input_audio_buffer.speech_started", "audio_start_ms": int(at_ms), "item_id": item_id})
        await self.set_state("user_speaking")

    async def _on_pause(self, at_ms: float) -> None:
        if self._echo_segment_checked_at is not None:
            self._echo_segment_checked_at = None
            return
        if self._overlap is not None:
            self._overlap.ended = True
            self._overlap.speech_ms = at_ms - self._overlap.started_ms
            self._classify_overlap()
            await self._decide_overlap()
            return
        turn = self._turn
        if turn is None:
            return
        turn.paused_at = at_ms
        if turn.reader is not None:
            turn.reader.stop()
        turn.timeline.marks.pop("speech_end", None)
        turn.timeline.mark("speech_end", self._arrival.wall_ms(at_ms))
        turn.required_silence_ms = self._endpointer.unknown_ms
        audio = np.concatenate(turn.frames)
        create = self.settings.turn_detection.create_response
        turn.speculative = Response(self, user_item=turn.item_id, audio=audio, timeline=turn.timeline.copy(),
                                    create=create, speculative=True)
        turn.speculative.start()

    def on_transcript(self, response: Response) -> None:
        """Called by a reply as soon as its user turn is recognised: the words decide how long to wait."""
        turn = self._turn
        if turn is not None and turn.speculative is response:
            turn.required_silence_ms = self._endpointer.required_silence_ms(response.transcript)
            if turn.barged_in:  # someone taking the floor often pauses mid-sentence: never the shortest wait
                turn.required_silence_ms = max(turn.required_silence_ms, self._endpointer.unknown_ms)

    async def _commit_turn(self) -> None:
        turn, self._turn = self._turn, None
        turn.speculative.timeline.mark("endpoint")
        await self.send({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": int(turn.paused_at),
                         "item_id": turn.item_id})
        await self._announce_user_item(turn.item_id)
        response = turn.speculative
        response.timeline.extra["speculations_dropped"] = turn.dropped
        if turn.reader is not None:
            response.timeline.extra.update(read_ahead_reads=turn.reader.stats.reads,
                                           read_ahead_tokens=turn.reader.stats.prefilled_tokens)
        if self.response and not self.response.finished:
            await self.response.cancel("turn_detected")
        self._track(response)
        await response.release()

    async def _announce_user_item(self, item_id: str) -> None:
        await self.send({"type": "input_audio_buffer.committed", "item_id": item_id, "previous_item_id": None})
        await self.send({"type": "conversation.item.added", "previous_item_id": None,
                         "item": message_item(item_id, "user", "completed", None)})

    async def _commit_manual(self) -> None:
        """The client ends the turn. With turn detection off (OpenAI's semantics) the buffer becomes a user item,
        heard and analysed, and `response.create` asks for the reply; with it on, the turn is answered as usual."""
        detecting = self.settings.turn_detection.type is not None
        frames = ((self._turn.frames if self._turn else self._preroll) if detecting else list(self._manual)) + (
            [self._pending] if self._pending.size else [])
        if not frames:
            raise ProtocolError("invalid_audio", "the input audio buffer is empty")
        audio = np.concatenate(frames)
        item_id = self._turn.item_id if self._turn else new_id("item")
        timeline = self._turn.timeline if self._turn else TurnTimeline(self.clock)
        await self._drop_turn()
        self._preroll, self._pending = [], np.zeros(0, np.float32)
        self._manual.clear()
        timeline.mark("speech_end")
        timeline.mark("endpoint")
        await self._announce_user_item(item_id)
        if detecting:
            await self._start_response(user_item=item_id, timeline=timeline, audio=audio)
        else:
            # heard in commit order: a turn committed while the last is still being heard waits for its words
            self._hearing = Response(self, user_item=item_id, audio=audio, timeline=timeline, create=False,
                                     after=self._hearing)
            self._hearing.start()

    async def _drop_turn(self) -> None:
        if self._turn is not None:
            if self._turn.reader is not None:
                self._turn.reader.stop()
            await self._drop_speculation(self._turn)
            self._turn = None

    async def _drop_speculation(self, turn: UserTurn) -> None:
        if turn.speculative is not None:
            await turn.speculative.cancel("user_continued")
            turn.speculative = None

    async def _start_response(self, *, user_item: str | None, timeline: TurnTimeline, audio: np.ndarray | None,
                              after: Response | None = None) -> None:
        if self.response and not self.response.finished:
            self.response.pause()
            await self.response.cancel("turn_detected")
        response = Response(self, user_item=user_item, audio=audio, timeline=timeline, after=after)
        self._track(response)
        response.start()

    def _track(self, response: Response) -> None:
        self.response = response
        self._recent_responses[response.item_id] = response
        while len(self._recent_responses) > 8:
            self._recent_responses.pop(next(iter(self._recent_responses)))

    def prepare_next_turn(self, conversation) -> None:
        """While the reply plays, let the dialogue model cache the conversation so far, if nothing else
        is waiting for it (the next turn then evaluates only its own words)."""
        if not self.engine.can_prepare:  # no lasting cache: nothing to gain, no worker call
            return

        async def prepare() -> None:
            try:
                t0 = time.perf_counter()
                ran = await self.pipeline.workers["dialogue"].run_when_idle(lambda: self.engine.prepare(conversation))
                log.info("session %s: next turn %s (%.0f ms)", self.settings.id, "prepared" if ran else "not prepared: model busy",
                         (time.perf_counter() - t0) * 1000)
            except Exception:  # an optimisation: a failure here must not touch the conversation
                log.warning("preparing the next turn failed", exc_info=True)

        self._preparing = asyncio.create_task(prepare())

    # --- the agent's backchannels ---------------------------------------------------------------------------
    def _backchannels_enabled(self) -> bool:
        mode = self.config.backchannels
        telephone = self.settings.input_format.type in ("audio/pcmu", "audio/pcma")
        return mode == "on" or (mode == "auto" and not telephone)

    async def _send_backchannel(self) -> None:
        """A short acknowledgement as its own small response; it is not part of the history."""
        if self.response is not None and self.response.audible:
            return
        phrase, tone = pick(tone_for(self.last_voice))
        clip = await self.pipeline.backchannel_clip(phrase, tone, self.settings.voice)
        if clip is None:
            return
        samples, rate = clip
        out_fmt = self.settings.output_format
        audio = resample(samples, rate, out_fmt.rate)
        rid, iid = new_id("resp"), new_id("item")
        item = message_item(iid, "assistant", "completed", phrase)
        meta = {"warmline_backchannel": True, "tone": tone}
        await self.send({"type": "response.created", "response": {"object": "realtime.response", "id": rid,
                         "status": "in_progress", "output": [], "metadata": meta}})
        await self.send({"type": "response.output_item.added", "response_id": rid, "output_index": 0, "item": item})
        import base64

        step = out_fmt.rate // 10
        for i in range(0, len(audio), step):
            await self.send({"type": "response.output_audio.delta", "response_id": rid, "item_id": iid,
                             "output_index": 0, "content_index": 0,
                             "delta": base64.b64encode(out_fmt.encode(audio[i:i + step])).decode("ascii")})
        self.echo.add_reference(audio, out_fmt.rate, self.clock.now_ms())
        await self.send({"type": "response.output_audio_transcript.done", "response_id": rid, "item_id": iid,
                         "output_index": 0, "content_index": 0, "transcript": phrase})
        await self.send({"type": "response.output_item.done", "response_id": rid, "output_index": 0, "item": item})
        await self.send({"type": "response.done", "response": {"object": "realtime.response", "id": rid,
                         "status": "completed", "output": [item], "metadata": meta}})

    # --- overlapping speech while the agent talks ---------------------------------------------------------
    async def _start_overlap(self, at_ms: float) -> None:
        self.response.pause()
        self._overlap = Overlap(started_ms=at_ms)
        self._overlap_frames = list(self._preroll[-int(200 // FRAME_MS):])
        self._overlap_item = new_id("item")
        self._overlap_partial_done = False
        self._preroll = []
        await self.send({"type": "input_audio_buffer.speech_started", "audio_start_ms": int(at_ms),
                         "item_id": self._overlap_item})
        await self.set_state("user_speaking")

    def _classify_overlap(self) -> None:
        """Recognise the overlap so far (and its vocal events) on the workers; the result feeds the policy."""
        overlap, frames = self._overlap, list(self._overlap_frames)
        if overlap is None or not frames:
            return
        if self._overlap_task and not self._overlap_task.done():
            if not overlap.ended:
                return
            self._overlap_task.cancel()

        async def classify() -> None:
            p = self.pipeline
            audio = np.concatenate(frames)
            transcript = await p.workers["asr"].run(p.recognizer.transcribe, audio)
            events: list[str] = []
            if p.analyser is not None:
                profile = await p.workers["paralinguistics"].run(
                    p.analyser.analyse, audio, encoder_states=transcript.encoder_states)
                events = [e["label"] for e in profile.to_dict().get("events", []) if isinstance(e, dict)]
            if self._overlap is overlap:
                overlap.transcript, overlap.events = transcript.text.strip(), events
                await self._decide_overlap()

        self._overlap_task = asyncio.create_task(classify())

    async def _judge_ended_overlap(self, *, quiet_ms: float = 0.0) -> None:
        """An overlap that ended: a little silence must follow before the agent goes on. The silence is audio time
        since it ended, plus `quiet_ms` of wall time in which the client sent nothing."""
        overlap = self._overlap
        overlap.silent_ms = self._audio_ms - overlap.started_ms - overlap.speech_ms + quiet_ms
        if overlap.transcript is not None:
            await self._decide_overlap()

    async def _decide_overlap(self) -> None:
        overlap = self._overlap
        if overlap is None:
            return
        decision = self.policy.decide(overlap)
        if decision == "wait":
            return
        self._overlap = None
        response = self.response
        if decision == "resume" and response is not None and not response.finished:
            log.info("session %s: overlap was not an interruption (%s, %s); resuming", self.settings.id,
                     self._said(overlap.transcript), overlap.events)
            response.resume()
            await self.send({"type": "warmline.resumed", "response_id": response.id, "item_id": response.item_id,
                             "heard": overlap.transcript or ""})
            await self.set_state("speaking")
            self._overlap_frames = []
            return
        # A real barge-in: the reply ends where it paused; the overlap becomes the user's turn.
        log.info("session %s: overlap is an interruption (%s, %.0f ms, %s)", self.settings.id,
                 self._said(overlap.transcript), overlap.speech_ms, overlap.events)
        if response is not None and not response.finished:
            await response.interrupt()
            await self.set_state("interrupted")
        frames, self._overlap_frames = self._overlap_frames, []
        await self._begin_turn_from_overlap(overlap, frames)

    async def _begin_turn_from_overlap(self, overlap: Overlap, frames: list[np.ndarray]) -> None:
        self.conversation.forget_before(self.config.max_history_turns)
        timeline = TurnTimeline(self.clock)
        timeline.mark("speech_start", self._arrival.wall_ms(overlap.started_ms))
        self._turn = UserTurn(self._overlap_item, timeline, started_ms=overlap.started_ms, frames=frames,
                              barged_in=True)
        await self.set_state("user_speaking")
        if overlap.ended:
            await self._on_pause(overlap.started_ms + overlap.speech_ms)

    @property
    def busy(self) -> bool:
        """A turn is being heard or answered."""
        return self._turn is not None or any(r is not None and not r.finished for r in (self.response, self._hearing))

    def _said(self, text: str | None) -> str:
        """What the caller said, as the log may show it: the words only with `log_content`, else their count."""
        return repr(text) if self.config.log_content else f"{len((text or '').split())} words"

    async def close(self) -> None:
        self._closed = True
        for task in (self._overlap_task, self._preparing, self._watch):
            if task and not task.done():
                task.cancel()
        if self._turn is not None:
            if self._turn.reader is not None:
                self._turn.reader.stop()
            await self._drop_speculation(self._turn)
        for response in (self.response, self._hearing):
            if response and not response.finished:
                await response.cancel("client_disconnected")


def _item_id(event: dict) -> str | None:
    item_id = event.get("item_id")
    if item_id is not None and not isinstance(item_id, str):
        raise ProtocolError("invalid_event", "item_id must be a string")
    return item_id


def _b64decode(text: str, limit: int) -> bytes:
    import base64
    import binascii

    if len(text) > limit * 4 // 3 + 4:
        raise ProtocolError("audio_too_large", f"one append carries at most {limit} bytes of audio")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("invalid_audio", "audio is not valid base64") from None
    if not data:
        raise ProtocolError("invalid_audio", "empty audio")
    return data
