"""Twilio Media Streams: the bidirectional stream `<Connect><Stream>` opens to this server.

Twilio sends JSON text frames `connected`, `start` (streamSid, callSid, mediaFormat), `media` (base64
8 kHz mu-law, 20 ms a message), `mark` (a mark we sent, echoed once the audio before it has played),
`dtmf` and `stop`. We send `media` (base64 mu-law), `mark` after each chunk (to learn what was played)
and `clear` (drop what Twilio has buffered: a barge-in)."""
from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
from typing import Awaitable, Callable
from xml.sax.saxutils import escape

from websockets.exceptions import ConnectionClosed

from server.telephony.line import PlayoutLedger

log = logging.getLogger("warmline.telephony.twilio")

STREAM_PATH = "/telephony/twilio"
VOICE_PATH = "/telephony/twilio/voice"
MULAW_BYTES_PER_MS = 8  # 8 kHz, one byte a sample


def stream_twiml(stream_url: str) -> str:
    """The TwiML that connects a call to this server's Media Stream endpoint."""
    url = escape(stream_url, {'"': "&quot;"})
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Connect><Stream url="{url}"/></Connect></Response>\n'


def signature(auth_token: str, url: str, params: list[tuple[str, str]] | None = None) -> str:
    """X-Twilio-Signature: base64 HMAC-SHA1, keyed with the auth token, of the full URL followed by every
    POST parameter's name and value, sorted by name."""
    data = url + "".join(k + v for k, v in sorted(params or []))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def signature_valid(auth_token: str, urls: list[str], given: str, params: list[tuple[str, str]] | None = None) -> bool:
    """True if `given` signs any of `urls` (a proxy may have changed the scheme Twilio used)."""
    return bool(given) and any(hmac.compare_digest(signature(auth_token, u, params), given) for u in urls)


class TwilioLine:
    """Our side of one Media Stream: audio out as `media` + `mark`, `clear` on barge-in."""

    transport = "twilio"

    def __init__(self, *, ws, stream_sid: str, call_id: str) -> None:
        self.ws, self.stream_sid, self.call_id = ws, stream_sid, call_id
        self.ledger = PlayoutLedger(bytes_per_ms=MULAW_BYTES_PER_MS)
        self._marks: dict[str, tuple[str, float]] = {}  # mark name -> (item, position after its audio)
        self._mark_seq = 0
        self._heard = asyncio.Event()
        self._lock = asyncio.Lock()

    async def _send(self, message: dict) -> None:
        async with self._lock:
            await self.ws.send(json.dumps(message))

    async def play(self, audio: bytes, *, item_id: str) -> None:
        position = self.ledger.queue(item_id, len(audio))
        self._mark_seq += 1
        name = f"{self._mark_seq}:{item_id}:{position:.0f}"
        self._marks[name] = (item_id, position)
        await self._send({"event": "media", "streamSid": self.stream_sid,
                          "media": {"payload": base64.b64encode(audio).decode("ascii")}})
        await self._send({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}})

    def on_mark(self, name: object) -> str | None:
        """Twilio played the audio before this mark; returns its item (None for a mark a clear flushed)."""
        entry = self._marks.pop(name, None) if isinstance(name, str) else None
        if entry is None:
            return None
        self.ledger.heard(*entry)
        self._heard.set()
        return entry[0]

    async def clear(self) -> None:
        # Twilio echoes the marks of the dropped audio too; that audio was not heard, so forget them first.
        self._marks.clear()
        self.ledger.cleared()
        self._heard.set()
        await self._send({"event": "clear", "streamSid": self.stream_sid})

    async def wait_played(self, item_id: str, *, timeout: float) -> bool:
        deadline = asyncio.get_running_loop().time() + timeout
        while self.ledger.played_ms.get(item_id, 0.0) < self.ledger.queued_ms.get(item_id, 0.0) - 1.0:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return False
            self._heard.clear()
            try:
                await asyncio.wait_for(self._heard.wait(), timeout=remaining)
            except asyncio.TimeoutError:
                return False
        return True

    async def hang_up(self) -> None:
        await self.ws.close()


class TwilioMediaStream:
    """Reads one Media Stream and drives its call. A malformed message is logged and skipped; the call goes on."""

    def __init__(self, *, ws, open_call: Callable[[TwilioLine, dict], Awaitable[object]]) -> None:
        self.ws, self.open_call = ws, open_call
        self.call = None
        self.line: TwilioLine | None = None
        self.malformed = 0

    async def run(self) -> None:
        reason = "caller_hung_up"
        try:
            async for message in self.ws:
                msg = self._parse(message)
                if msg is None:
                    continue
                if not await self._dispatch(msg):
                    reason = "stream_stopped"
                    break
        except ConnectionClosed:
            reason = "connection_closed"
        finally:
            if self.call is not None:
                await self.call.end(reason=reason)

    def _bad(self, what: str) -> None:
        self.malformed += 1
        if self.call is not None:
            self.call.malformed += 1
        log.warning("twilio stream %s: %s; skipped", self.line.stream_sid if self.line else "(not started)", what)

    def _parse(self, message: str | bytes) -> dict | None:
        if isinstance(message, bytes):
            self._bad(f"a binary frame of {len(message)} bytes (Media Streams messages are JSON text)")
            return None
        try:
            msg = json.loads(message)
        except (ValueError, RecursionError) as exc:  # not JSON, an integer too long, brackets nested too deep
            self._bad(f"not JSON ({str(exc)[:200]})")
            return None
        if not isinstance(msg, dict) or not isinstance(msg.get("event"), str):
            self._bad("a message without an 'event'")
            return None
        return msg

    async def _dispatch(self, msg: dict) -> bool:
        """Handle one message; False when the stream has stopped."""
        event = msg["event"]
        if event == "connected":
            return True
        if event == "start":
            await self._start(msg)
        elif event == "stop":
            return False
        elif self.call is None:
            self._bad(f"{event!r} before 'start'")
        elif event == "media":
            await self._media(msg.get("media"))
        elif event == "mark":
            name = (msg.get("mark") or {}).get("name") if isinstance(msg.get("mark"), dict) else None
            if (item := self.line.on_mark(name)) is not None:
                await self.call.confirm_playback(item)
        elif event == "dtmf":
            digit = (msg.get("dtmf") or {}).get("digit") if isinstance(msg.get("dtmf"), dict) else None
            if isinstance(digit, str) and digit:
                await self.call.dtmf(digit)
            else:
                self._bad("a dtmf message without a digit")
        else:
            self._bad(f"unknown event {event!r}")
        return True

    async def _start(self, msg: dict) -> None:
        start = msg.get("start")
        if self.call is not None:
            self._bad("a second 'start'")
            return
        if not isinstance(start, dict) or not start.get("streamSid") and not msg.get("streamSid"):
            self._bad("a 'start' without start.streamSid")
            return
        fmt = start.get("mediaFormat") or {}
        if fmt and (not isinstance(fmt, dict) or fmt.get("encoding") != "audio/x-mulaw"
                    or fmt.get("sampleRate", 8000) not in (8000, "8000")):
            log.warning("twilio stream: media format %s; Media Streams carry audio/x-mulaw at 8000 Hz, assuming that", fmt)
        stream_sid = start.get("streamSid") or msg.get("streamSid")
        self.line = TwilioLine(ws=self.ws, stream_sid=stream_sid, call_id=start.get("callSid") or stream_sid)
        self.call = await self.open_call(self.line, start)
        self.call.malformed += self.malformed

    async def _media(self, media: object) -> None:
        if not isinstance(media, dict) or not isinstance(media.get("payload"), str):
            self._bad("a media message without a payload")
            return
        if media.get("track", "inbound") not in ("inbound", "inbound_track"):
            return  # an outbound track echoed back (both-track streams): not the caller
        try:
            audio = base64.b64decode(media["payload"], validate=True)
        except (binascii.Error, ValueError):
            self._bad("a media payload that is not base64")
            return
        if audio:
            await self.call.hear(audio)
