"""One phone call: a `Session` fed with the caller's audio, its outgoing events turned into the phone's.

The session runs unchanged, in the line's own audio format (8 kHz mu-law or 8 kHz linear both ways, so the
session resamples to its models and to the phone). Its events go through a queue, as they would over a
socket, and become: reply audio on the line; at `input_audio_buffer.speech_started` (a barge-in) the
line's buffer dropped and a `conversation.item.truncate` saying how much the caller heard, so the history
keeps those words; at `warmline.escalation` (or the caller pressing 0) the handover: the hotline told, the
crisis reply heard to its end, a handover line, the transfer."""
from __future__ import annotations

import asyncio
import base64
import logging

from websockets.exceptions import ConnectionClosed

from server.audio import resample
from server.formats import AudioFormat
from server.protocol import ProtocolError, SessionSettings
from server.session import Session
from server.telephony.codecs import mulaw_to_pcm16
from server.telephony.handover import Handover, HandoverRequest
from server.telephony.line import PhoneLine
from server.telephony.records import CallRecorder

log = logging.getLogger("warmline.telephony.call")

HANDOVER_ITEM = "warmline_handover"
HUMAN_DIGIT = "0"


class PhoneCall:
    def __init__(self, *, pipeline, line: PhoneLine, wire_format: AudioFormat, handover: Handover,
                 recorder: CallRecorder | None = None) -> None:
        self.pipeline, self.line, self.wire_format, self.handover, self.recorder = (
            pipeline, line, wire_format, handover, recorder)
        self.session = Session(pipeline, self._from_session,
                               settings=SessionSettings(input_format=wire_format, output_format=wire_format))
        self.malformed = 0
        self.muted = False  # a handover is under way: the agent neither listens nor talks
        self.ended = False
        self._events: asyncio.Queue[dict] = asyncio.Queue()
        self._relay: asyncio.Task | None = None
        self._handover_after: tuple[str, HandoverRequest] | None = None  # (response id, request)
        self._handing_over: asyncio.Task | None = None
        self._notices: set[asyncio.Task] = set()
        self._confirmed: set[str] = set()
        self._end_reason: str | None = None

    async def start(self) -> None:
        self._relay = asyncio.create_task(self._relay_events(), name=f"call-{self.line.call_id}")
        await self.session.start()
        log.info("call %s (%s) started", self.line.call_id, self.line.transport)

    # --- from the caller --------------------------------------------------------------------------------
    async def hear(self, audio: bytes) -> None:
        if self.recorder is not None:
            self.recorder.caller_audio(mulaw_to_pcm16(audio) if self.wire_format.type == "audio/pcmu" else audio)
        if self.muted or self.ended:
            return
        try:
            await self.session.feed_wire_audio(audio)
        except ProtocolError as exc:
            self.malformed += 1
            log.warning("call %s: audio skipped: %s", self.line.call_id, exc.message)

    async def dtmf(self, digit: str) -> None:
        log.info("call %s: the caller pressed %r", self.line.call_id, digit)
        if digit == HUMAN_DIGIT and not self.muted and not self._handover_running():
            request = HandoverRequest(self.line.call_id, self.line.transport, "dtmf", reason="the caller pressed 0")
            self._handover_after = None  # a crisis handover waiting for its reply to end is this one now
            self._begin_handover(request, after_item=None)

    async def confirm_playback(self, item_id: str) -> None:
        """The phone played the start of this item: the turn's timings get `playback_confirmed`."""
        if item_id not in self._confirmed and item_id != HANDOVER_ITEM:
            self._confirmed.add(item_id)
            await self.session.handle({"type": "warmline.playback", "item_id": item_id, "state": "started"})

    async def end(self, *, reason: str) -> None:
        if self.ended:
            return
        self.ended = True
        if self._handover_running():
            # the transfer request may still be on its way (Twilio stops the stream as it redirects the call)
            await asyncio.wait([self._handing_over], timeout=15)
            self._handing_over.cancel()
        await self.session.close()
        for task in (self._relay, *self._notices):
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in (self._relay, *self._notices) if t is not None), return_exceptions=True)
        reason = self._end_reason or reason
        if self.recorder is not None:
            self.recorder.close(reason=reason, malformed=self.malformed)
        log.info("call %s ended: %s", self.line.call_id, reason)

    # --- from the session ---------------------------------------------------------------------------------
    async def _from_session(self, event: dict) -> None:
        self._events.put_nowait(event)

    async def _relay_events(self) -> None:
        while True:
            event = await self._events.get()
            try:
                await self._on_event(event)
            except (ConnectionError, ConnectionClosed) as exc:
                log.debug("call %s: the line is gone (%s)", self.line.call_id, exc)
            except Exception:  # one bad event must not end the call
                log.exception("call %s: could not relay %s", self.line.call_id, event.get("type"))

    async def _on_event(self, event: dict) -> None:
        kind = event.get("type")
        if kind == "response.output_audio.delta":
            if not self.muted:
                await self.line.play(base64.b64decode(event["delta"]), item_id=event["item_id"])
        elif kind == "input_audio_buffer.speech_started":
            await self._stop_playback()
        elif kind == "response.done":
            response = event.get("response") or {}
            if response.get("status") == "cancelled" and not self.muted:
                await self._stop_playback()
            if self._handover_after and self._handover_after[0] == response.get("id"):
                _, request = self._handover_after
                self._handover_after = None
                if not self.muted and not self._handover_running():
                    output = response.get("output") or [{}]
                    self._begin_handover(request, after_item=output[0].get("id"))
        elif kind == "warmline.escalation":
            await self._on_escalation(event)
        elif kind == "error":
            log.warning("call %s: session error %s", self.line.call_id, event.get("error"))

    async def _stop_playback(self) -> None:
        """A barge-in: drop what the phone has queued and tell the session what the caller heard."""
        item = self.line.ledger.busy()
        if item is None or item == HANDOVER_ITEM:
            return
        heard = self.line.ledger.played_ms[item]
        queued = self.line.ledger.queued_ms[item]
        await self.line.clear()
        if self.recorder is not None:
            self.recorder.barge_in()
        log.info("call %s: barge-in: the phone's buffer dropped; %s heard to %.0f of %.0f ms", self.line.call_id,
                 item, heard, queued)
        await self.session.handle({"type": "conversation.item.truncate", "item_id": item, "content_index": 0,
                                   "audio_end_ms": int(heard)})

    # --- the handover -----------------------------------------------------------------------------------------
    async def _on_escalation(self, event: dict) -> None:
        request = HandoverRequest(self.line.call_id, self.line.transport, "screen", category=event.get("category"),
                                  level=event.get("level"), reason=event.get("reason"))
        log.warning("call %s: escalation %s/%s: %s", self.line.call_id, request.category, request.level, request.reason)
        if self.recorder is not None:
            self.recorder.escalation(source="screen", category=request.category, level=request.level,
                                     reason=request.reason)
        self._notify(request)
        if self.handover.can_transfer(self.line.transport) and not self._handover_running() and not self._handover_after:
            self._handover_after = (event.get("response_id"), request)  # once the crisis reply has been heard

    def _handover_running(self) -> bool:
        return self._handing_over is not None and not self._handing_over.done()

    def _notify(self, request: HandoverRequest) -> None:
        task = asyncio.create_task(self.handover.notify(request))
        self._notices.add(task)
        task.add_done_callback(self._notices.discard)

    def _begin_handover(self, request: HandoverRequest, *, after_item: str | None) -> None:
        if request.source == "dtmf":
            if self.recorder is not None:
                self.recorder.escalation(source="dtmf", category=None, level=None, reason=request.reason)
            self._notify(request)
        self._handing_over = asyncio.create_task(self._hand_over(request, after_item=after_item))

    async def _hand_over(self, request: HandoverRequest, *, after_item: str | None) -> None:
        line = self.line
        try:
            if after_item is not None:
                await line.wait_played(after_item, timeout=90)  # the crisis reply and its resources, heard whole
            transfer = self.handover.can_transfer(line.transport)
            if not transfer and request.source != "dtmf":
                return
            self.muted = transfer  # without a transfer the conversation goes on after the line
            await self._quiet_the_agent()
            if not transfer:
                await self._say(self.handover.no_human_line)
                outcome = {"action": "none", "ok": False, "detail": "no transfer configured for this transport"}
            else:
                await self._say(self.handover.line)
                outcome = await self.handover.transfer(line)
                if outcome.get("ok"):
                    self._end_reason = "transferred"
                else:
                    self.muted = False
                    await self._say(self.handover.no_human_line)
            if self.recorder is not None:
                self.recorder.handover({"source": request.source, **outcome})
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("call %s: the handover failed", line.call_id)
            self.muted = False

    async def _quiet_the_agent(self) -> None:
        response = self.session.response
        item = self.line.ledger.busy()
        if item is not None and item != HANDOVER_ITEM:
            heard = self.line.ledger.played_ms[item]
            await self.line.clear()
            await self.session.handle({"type": "conversation.item.truncate", "item_id": item, "content_index": 0,
                                       "audio_end_ms": int(heard)})
        if response is not None and not response.finished:
            await self.session.handle({"type": "response.cancel"})

    async def _say(self, text: str) -> bool:
        """Speak a fixed line in the agent's voice (synthesized once per process) and wait until it was heard."""
        clip = await self.pipeline.backchannel_clip(text, "warm")
        if clip is None:
            return False
        samples, rate = clip
        fmt = self.wire_format
        audio = fmt.encode(resample(samples, rate, fmt.rate))
        step = fmt.rate // 10 * fmt.bytes_per_sample  # 100 ms a message, as the session sends
        for i in range(0, len(audio), step):
            await self.line.play(audio[i:i + step], item_id=HANDOVER_ITEM)
        seconds = len(audio) / (fmt.rate * fmt.bytes_per_sample)
        return await self.line.wait_played(HANDOVER_ITEM, timeout=seconds + 10)
