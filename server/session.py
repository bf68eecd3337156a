"""One conversation: its state, its history, its timers, and the cancellation of whatever is in flight.

Audio comes in through `feed_audio` (already decoded from the wire), goes through VAD on every frame
(also while the agent speaks, so the user can interrupt), and a finished user turn starts a
`Response`: ASR -> voice analysis -> dialogue -> voice, each on its model's worker thread. Stages never
call each other; this controller passes each result to the next and to the client.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

import numpy as np

from asr.base import SAMPLE_RATE
from server.audio import StreamResampler
from server.pipeline import Pipeline
from server.protocol import ProtocolError, SessionSettings, error_event, new_id
from server.response import Response
from server.timeline import AudioArrival, Clock, TurnTimeline

log = logging.getLogger("warmline.session")

FRAME = 512  # Silero VAD frame at 16 kHz: 32 ms
FRAME_MS = FRAME * 1000 / SAMPLE_RATE
PRE_ROLL_MS = 1000

Send = Callable[[dict], Awaitable[None]]


class Session:
    def __init__(self, pipeline: Pipeline, send: Send, *, settings: SessionSettings | None = None) -> None:
        from asr.vad import SpeechSegmenter
        from dialogue.conversation import Conversation
        from dialogue.engine import DialogueEngine
        from dialogue.safety import SafetyPolicy

        cfg = pipeline.config
        self.pipeline, self._send = pipeline, send
        self.settings = settings or SessionSettings()
        self.settings.turn_detection.threshold = cfg.vad_threshold
        self.settings.turn_detection.silence_duration_ms = cfg.end_silence_ms
        self.clock = Clock()
        self.conversation = Conversation()
        self.engine = DialogueEngine(pipeline.chat_model, mode=cfg.dialogue_mode,
                                     safety=SafetyPolicy(locale=cfg.locale), instructions=None)
        self.baseline = pipeline.analyser.new_baseline() if pipeline.analyser else None
        self._vad_stream = pipeline.vad.stream()
        self._make_segmenter = lambda: SpeechSegmenter(
            threshold=self.settings.turn_detection.threshold,
            end_silence_ms=self.settings.turn_detection.silence_duration_ms, min_speech_ms=cfg.min_speech_ms)
        self._segmenter = self._make_segmenter()
        self._resampler = StreamResampler(self.settings.input_format.rate, SAMPLE_RATE)
        self._pending = np.zeros(0, np.float32)  # 16 kHz samples not yet a full VAD frame
        self._audio_ms = 0.0  # position in the user's 16 kHz stream
        self._arrival = AudioArrival()
        self._recent: list[np.ndarray] = []  # 16 kHz frames of the pre-roll and the current utterance
        self._speaking_since: float | None = None  # audio ms of the current utterance's onset
        self._user_item: str | None = None
        self._timeline: TurnTimeline | None = None
        self.state = "listening"
        self.response: Response | None = None
        self._recent_responses: dict[str, Response] = {}  # by assistant item id, so late truncates still apply
        self._turn_task: asyncio.Task | None = None
        self._closed = False

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

    # --- incoming ---------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.send({"type": "session.created", "session": self.settings.to_dict()})
        await self.send({"type": "warmline.state", "state": self.state})

    async def handle(self, event: dict) -> None:
        kind, eid = event["type"], event.get("event_id")
        try:
            if kind == "session.update":
                await self._update_session(event.get("session"))
            elif kind == "input_audio_buffer.append":
                audio = event.get("audio")
                if not isinstance(audio, str):
                    raise ProtocolError("invalid_audio", "input_audio_buffer.append needs base64 'audio'")
                await self.feed_wire_audio(_b64decode(audio, self.pipeline.config.max_audio_bytes_per_append))
            elif kind == "input_audio_buffer.commit":
                await self._commit(manual=True)
            elif kind == "input_audio_buffer.clear":
                self._recent, self._speaking_since = [], None
                self._segmenter = self._make_segmenter()
                await self.send({"type": "input_audio_buffer.cleared"})
            elif kind == "conversation.item.create":
                await self._create_item(event.get("item"))
            elif kind == "conversation.item.truncate":
                await self._truncate(event)
            elif kind == "conversation.item.delete":
                raise ProtocolError("invalid_event", "conversation.item.delete is not supported")
            elif kind == "response.create":
                await self._start_response(user_item=None, timeline=TurnTimeline(self.clock), audio=None)
            elif kind == "response.cancel":
                if not self.response or self.response.finished:
                    raise ProtocolError("no_active_response", "there is no response in progress to cancel")
                await self.response.cancel("client_cancelled")
            elif kind == "warmline.playback":
                if self.response and event.get("item_id") == self.response.item_id and event.get("state") == "started":
                    self.response.timeline.mark("playback_confirmed")
        except ProtocolError as exc:
            await self.error(exc.code, exc.message, exc.event_id or eid)

    async def _update_session(self, payload: object) -> None:
        old_rate = self.settings.input_format.rate
        self.settings.update(payload)
        if self.settings.input_format.rate != old_rate:
            self._resampler = StreamResampler(self.settings.input_format.rate, SAMPLE_RATE)
        self._segmenter = self._make_segmenter()
        await self.send({"type": "session.updated", "session": self.settings.to_dict()})

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
        """VAD every full frame; the segmenter's events drive turn-taking and barge-in."""
        buf = np.concatenate([self._pending, samples16k]) if self._pending.size else samples16k
        n = len(buf) // FRAME
        self._pending = buf[n * FRAME:].copy()
        self._arrival.add(self._audio_ms + len(samples16k) * 1000 / SAMPLE_RATE, self.clock.now_ms())
        if n == 0:
            return
        frames = buf[: n * FRAME].reshape(n, FRAME)
        probs = await self.pipeline.workers["vad"].run(lambda: [self._vad_stream.probability(f) for f in frames])
        for frame, prob in zip(frames, probs):
            self._recent.append(frame)
            self._audio_ms += FRAME_MS
            if self._speaking_since is None and len(self._recent) > PRE_ROLL_MS / FRAME_MS:
                self._recent.pop(0)
            if self.settings.turn_detection.type is None:
                continue
            for ev in self._segmenter.update(float(prob), self._audio_ms):
                if ev.kind == "speech_start":
                    await self._on_speech_start(ev.at_ms)
                elif ev.kind == "speech_end":
                    await self._on_speech_end(ev.at_ms)

    async def _on_speech_start(self, at_ms: float) -> None:
        self._speaking_since = at_ms
        self._user_item = new_id("item")
        self._timeline = TurnTimeline(self.clock)
        self._timeline.mark("speech_start", self._arrival.wall_ms(at_ms))
        await self.send({"type": "input_audio_buffer.speech_started", "audio_start_ms": int(at_ms),
                         "item_id": self._user_item})
        if self.response and not self.response.finished and self.settings.turn_detection.interrupt_response:
            await self.response.interrupt()
        await self.set_state("user_speaking")

    async def _on_speech_end(self, at_ms: float) -> None:
        if self._timeline:
            self._timeline.mark("speech_end", self._arrival.wall_ms(at_ms))
        await self.send({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": int(at_ms),
                         "item_id": self._user_item})
        await self._commit(manual=False)

    async def _commit(self, *, manual: bool) -> None:
        if not self._recent:
            if manual:
                raise ProtocolError("invalid_audio", "the input audio buffer is empty")
            return
        audio = np.concatenate(self._recent)
        if manual and self._pending.size:
            audio = np.concatenate([audio, self._pending])
        item_id = self._user_item or new_id("item")
        timeline = self._timeline or TurnTimeline(self.clock)
        if manual:
            timeline.mark("speech_end")
        timeline.mark("endpoint")
        self._recent, self._speaking_since, self._user_item, self._timeline = [], None, None, None
        await self.send({"type": "input_audio_buffer.committed", "item_id": item_id, "previous_item_id": None})
        await self.send({"type": "conversation.item.added", "previous_item_id": None, "item": {
            "id": item_id, "object": "realtime.item", "type": "message", "role": "user", "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}]}})
        create = self.settings.turn_detection.create_response or manual
        await self._start_response(user_item=item_id, timeline=timeline, audio=audio, create=create)

    async def _create_item(self, item: object) -> None:
        if not isinstance(item, dict) or item.get("type") != "message" or item.get("role") not in ("user", "assistant", "system"):
            raise ProtocolError("invalid_event", "conversation.item.create needs a message item with a role")
        parts = item.get("content") or []
        text = " ".join(p.get("text") or p.get("transcript") or "" for p in parts if isinstance(p, dict)).strip()
        if not text:
            raise ProtocolError("invalid_event", "the message has no text content")
        item_id = item.get("id") or new_id("item")
        if item["role"] == "user":
            self.conversation.add_user(text, voice=None, item_id=item_id)
        else:
            self.conversation.add_assistant(text, item_id=item_id)
        await self.send({"type": "conversation.item.added", "previous_item_id": None,
                         "item": {**item, "id": item_id, "status": "completed"}})

    async def _truncate(self, event: dict) -> None:
        item_id, played = event.get("item_id"), event.get("audio_end_ms")
        if not isinstance(played, (int, float)) or played < 0:
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

    async def _start_response(self, *, user_item: str | None, timeline: TurnTimeline,
                              audio: np.ndarray | None, create: bool = True) -> None:
        if self.response and not self.response.finished:
            await self.response.cancel("turn_detected")
        self.response = Response(self, user_item=user_item, audio=audio, timeline=timeline, create=create)
        self._recent_responses[self.response.item_id] = self.response
        while len(self._recent_responses) > 8:
            self._recent_responses.pop(next(iter(self._recent_responses)))
        self.response.start()

    async def close(self) -> None:
        self._closed = True
        if self.response and not self.response.finished:
            await self.response.cancel("client_disconnected")


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

