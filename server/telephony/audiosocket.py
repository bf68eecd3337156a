"""Asterisk AudioSocket: `AudioSocket(uuid,host:port)` in a dialplan connects the call to this TCP listener.

Every message is a 1-byte type, a 2-byte big-endian payload length and the payload: 0x00 hangup, 0x01 the
call's UUID (16 bytes, first), 0x03 a DTMF digit (1 ASCII byte), 0x10 audio (signed linear 16-bit
little-endian, 8 kHz mono), 0xff an error (an optional code). Asterisk writes what it receives to the
channel as it comes, so our audio leaves at playback pace, 20 ms a frame."""
from __future__ import annotations

import asyncio
import logging
import struct
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Awaitable, Callable

from server.telephony.line import PlayoutLedger

log = logging.getLogger("warmline.telephony.audiosocket")

HANGUP, UUID, DTMF, AUDIO, ERROR = 0x00, 0x01, 0x03, 0x10, 0xFF
SLIN_BYTES_PER_MS = 16  # 8 kHz, two bytes a sample
FRAME_BYTES = 320  # 20 ms
FRAME_S = 0.020
IDLE_S = 60.0  # Asterisk sends audio every 20 ms while a call is up; this long without a message is a dead peer


@dataclass(frozen=True)
class Message:
    kind: int
    payload: bytes = b""


def encode(kind: int, payload: bytes = b"") -> bytes:
    if len(payload) > 0xFFFF:
        raise ValueError(f"an AudioSocket payload is at most 65535 bytes, got {len(payload)}")
    return struct.pack(">BH", kind, len(payload)) + payload


class TruncatedMessage(Exception):
    """The connection ended inside a message."""


async def read_message(reader: asyncio.StreamReader) -> Message | None:
    """The next message; None at a clean end of the stream (between messages)."""
    try:
        header = await reader.readexactly(3)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise TruncatedMessage(f"the connection ended {len(exc.partial)} bytes into a message header") from None
        return None
    kind, length = struct.unpack(">BH", header)
    try:
        payload = await reader.readexactly(length) if length else b""
    except asyncio.IncompleteReadError as exc:
        raise TruncatedMessage(f"the connection ended {len(exc.partial)} of {length} bytes into a "
                               f"type 0x{kind:02x} payload") from None
    return Message(kind, payload)


class AudioSocketLine:
    """Our side of one AudioSocket call: audio out at playback pace, what was written is what was heard."""

    transport = "audiosocket"

    def __init__(self, *, writer: asyncio.StreamWriter, call_id: str) -> None:
        self.writer, self.call_id = writer, call_id
        self.ledger = PlayoutLedger(bytes_per_ms=SLIN_BYTES_PER_MS)
        self._queue: deque[tuple[str, bytes]] = deque()
        self._generation = 0  # bumped by every clear: a frame taken before it is not sent
        self._wake = asyncio.Event()
        self._written = asyncio.Event()
        self._pacer = asyncio.create_task(self._pace(), name=f"audiosocket-pacer-{call_id}")
        self.closed = False

    async def play(self, audio: bytes, *, item_id: str) -> None:
        self.ledger.queue(item_id, len(audio))
        self._queue.append((item_id, audio))
        self._wake.set()

    async def clear(self) -> None:
        self._queue.clear()
        self._generation += 1
        self.ledger.cleared()
        self._written.set()

    async def wait_played(self, item_id: str, *, timeout: float) -> bool:
        deadline = asyncio.get_running_loop().time() + timeout
        while self.ledger.played_ms.get(item_id, 0.0) < self.ledger.queued_ms.get(item_id, 0.0) - 1.0:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0 or self.closed:
                return False
            self._written.clear()
            try:
                await asyncio.wait_for(self._written.wait(), timeout=remaining)
            except asyncio.TimeoutError:
                return False
        return True

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        due = None
        try:
            while True:
                if not self._queue:
                    self._wake.clear()
                    await self._wake.wait()
                    due = None  # after a gap, start the schedule afresh
                item, audio = self._queue[0]
                generation = self._generation
                frame, rest = audio[:FRAME_BYTES], audio[FRAME_BYTES:]
                if rest:
                    self._queue[0] = (item, rest)
                else:
                    self._queue.popleft()
                now = loop.time()
                due = now if due is None or due < now - FRAME_S else due
                if due > now:
                    await asyncio.sleep(due - now)
                if generation != self._generation:
                    continue  # cleared while we slept
                self.writer.write(encode(AUDIO, frame))
                await self.writer.drain()
                self.ledger.heard(item, self.ledger.played_ms[item] + len(frame) / SLIN_BYTES_PER_MS)
                self._written.set()
                due += len(frame) / SLIN_BYTES_PER_MS / 1000
        except (ConnectionError, asyncio.CancelledError):
            self.closed = True
            self._written.set()

    async def hang_up(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._pacer.cancel()
        try:
            self.writer.write(encode(HANGUP))
            await self.writer.drain()
            self.writer.close()
        except ConnectionError:
            pass

    async def close(self) -> None:
        self._pacer.cancel()
        await asyncio.gather(self._pacer, return_exceptions=True)
        self.closed = True
        try:
            self.writer.close()
        except ConnectionError:
            pass


class AudioSocketConnection:
    """Reads one AudioSocket connection and drives its call. A malformed message is logged; a truncated one
    ends the call cleanly."""

    def __init__(self, *, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 open_call: Callable[[AudioSocketLine, dict], Awaitable[object]], idle_s: float = IDLE_S) -> None:
        self.reader, self.writer, self.open_call, self.idle_s = reader, writer, open_call, idle_s
        self.peer = writer.get_extra_info("peername")

    async def run(self) -> None:
        call, line, reason = None, None, "caller_hung_up"
        try:
            first = await asyncio.wait_for(read_message(self.reader), self.idle_s)
            if first is None or first.kind != UUID or len(first.payload) != 16:
                log.warning("audiosocket %s: the first message must be the call's UUID (type 0x01, 16 bytes); got %s",
                            self.peer, "nothing" if first is None else f"type 0x{first.kind:02x}, {len(first.payload)} bytes")
                self.writer.write(encode(ERROR, b"\x01"))
                return
            call_id = str(uuid.UUID(bytes=first.payload))
            line = AudioSocketLine(writer=self.writer, call_id=call_id)
            call = await self.open_call(line, {"uuid": call_id, "peer": str(self.peer)})
            while (msg := await asyncio.wait_for(read_message(self.reader), self.idle_s)) is not None:
                if msg.kind == HANGUP:
                    break
                if msg.kind == AUDIO:
                    if msg.payload:
                        await call.hear(msg.payload)
                elif msg.kind == DTMF:
                    await call.dtmf(msg.payload.decode("ascii", "replace")[:1])
                elif msg.kind == ERROR:
                    log.warning("audiosocket %s: Asterisk reports error %s", call_id, msg.payload.hex() or "(no code)")
                    reason = "asterisk_error"
                    break
                else:
                    call.malformed += 1
                    log.warning("audiosocket %s: message type 0x%02x (%d bytes) not handled; skipped",
                                call_id, msg.kind, len(msg.payload))
            else:
                reason = "connection_closed"
        except TruncatedMessage as exc:
            reason = "truncated_message"
            if call is not None:
                call.malformed += 1
            log.warning("audiosocket %s: %s; the call ends", line.call_id if line else self.peer, exc)
        except asyncio.TimeoutError:
            reason = "line_silent"
            log.warning("audiosocket %s: nothing from Asterisk for %.0f s; the call ends",
                        line.call_id if line else self.peer, self.idle_s)
        except ConnectionError:
            reason = "connection_closed"
        finally:
            if call is not None:
                await call.end(reason=reason)
            if line is not None:
                await line.close()
            else:
                self.writer.close()
