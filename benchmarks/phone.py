"""Simulated phone callers, written from the public specs, for the tests and `warmline bench telephony`.

`TwilioCaller` behaves as Twilio's side of a bidirectional Media Stream: `connected`, `start`, then a
`media` message every 20 ms (8 kHz mu-law, silence when the caller says nothing), `dtmf`, `stop`. It plays
the audio it is sent in real time, echoes each `mark` once the audio before it has played, and on `clear`
drops what it has buffered and echoes the pending marks at once. `AudioSocketCaller` behaves as Asterisk's
AudioSocket(): the UUID first, then 20 ms signed-linear audio frames both ways, DTMF, hangup."""
from __future__ import annotations

import asyncio
import base64
import json
import secrets
import struct
import time
import uuid
from collections import deque

import numpy as np
import websockets

from server.audio import float_to_pcm16, pcm16_to_float, resample
from server.formats import ulaw_decode, ulaw_encode

RATE = 8000
FRAME = 160  # 20 ms


class PhoneCaller:
    """The caller's side of a line: a frame every 20 ms (what it says, else silence), and a log of what came back."""

    def __init__(self) -> None:
        self.log: list[tuple[float, str, dict]] = []  # (monotonic, kind, detail)
        self._utterances: deque[list] = deque()  # [samples at 8 kHz, position, future]
        self._sender: asyncio.Task | None = None
        self._changed = asyncio.Event()
        self.ended = False

    # --- to implement ---------------------------------------------------------------------------------
    async def _send_frame(self, samples8k: np.ndarray) -> None:
        raise NotImplementedError

    # --- the caller speaks ----------------------------------------------------------------------------
    async def say(self, samples16k: np.ndarray) -> float:
        """Speak (16 kHz float audio) at real-time pace; returns the monotonic time its last frame went out."""
        done = asyncio.get_running_loop().create_future()
        self._utterances.append([resample(samples16k, 16000, RATE), 0, done])
        return await done

    async def pause(self, seconds: float) -> float:
        return await self.say(np.zeros(int(seconds * 16000), np.float32))

    def _start_sending(self) -> None:
        self._sender = asyncio.create_task(self._send_loop())

    async def _send_loop(self) -> None:
        due = time.monotonic()
        try:
            while not self.ended:
                frame = np.zeros(FRAME, np.float32)
                finished = None
                if self._utterances:
                    utterance = self._utterances[0]
                    chunk = utterance[0][utterance[1]:utterance[1] + FRAME]
                    frame[:len(chunk)] = chunk
                    utterance[1] += FRAME
                    if utterance[1] >= len(utterance[0]):
                        finished = self._utterances.popleft()[2]
                await self._send_frame(frame)
                if finished is not None and not finished.done():
                    finished.set_result(time.monotonic())
                due += FRAME / RATE
                await asyncio.sleep(max(0.0, due - time.monotonic()))
        except (ConnectionError, websockets.ConnectionClosed):
            self.ended = True
        finally:
            for utterance in self._utterances:
                if not utterance[2].done():
                    utterance[2].set_result(time.monotonic())

    async def _stop_sending(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)

    # --- what came back ---------------------------------------------------------------------------------
    def note(self, kind: str, **detail) -> None:
        self.log.append((time.monotonic(), kind, detail))
        self._changed.set()

    def of_kind(self, kind: str, after: float = 0.0) -> list[tuple[float, dict]]:
        return [(t, d) for t, k, d in self.log if k == kind and t >= after]

    def first(self, kind: str, after: float = 0.0) -> float | None:
        return next((t for t, k, _ in self.log if k == kind and t >= after), None)

    async def wait_for(self, kind: str, *, after: float = 0.0, timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        while (t := self.first(kind, after)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {kind} within {timeout} s; seen: {[k for _, k, _ in self.log[-12:]]}")
            if self.ended and kind != "ended":
                raise ConnectionError(f"the call ended before {kind}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=0.5)
            except asyncio.TimeoutError:
                pass
        return t

    async def until_playing(self, kind: str, *, after: float, seconds: float, bytes_per_second: int,
                            timeout: float = 120) -> float:
        """Until `seconds` of audio (`kind` events since `after`) have come and it is still coming: a reply, not
        only its short opening acknowledgement, is under way. Returns the time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.of_kind(kind, after=after)
            heard = sum(d["bytes"] for _, d in events) / bytes_per_second
            if heard >= seconds and time.monotonic() - events[-1][0] < 0.1:
                return time.monotonic()
            await asyncio.sleep(0.02)
        raise TimeoutError(f"{seconds} s of {kind} did not come within {timeout} s")

    async def wait_quiet(self, kind: str, *, seconds: float, timeout: float = 120) -> float:
        """Until no `kind` came for `seconds` (the agent has finished a reply); returns the last one's time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            last = max((t for t, k, _ in self.log if k == kind), default=None)
            if last is not None and time.monotonic() - last >= seconds:
                return last
            await asyncio.sleep(0.1)
        raise TimeoutError(f"{kind} did not stop within {timeout} s")


class TwilioCaller(PhoneCaller):
    """Twilio's side of a bidirectional Media Stream (mu-law 8 kHz), with a real-time playback buffer."""

    def __init__(self, url: str, *, headers: dict | None = None, custom: dict | None = None) -> None:
        super().__init__()
        self.url, self.headers, self.custom = url, headers or {}, custom or {}
        self.stream_sid = "MZ" + secrets.token_hex(16)
        self.call_sid = "CA" + secrets.token_hex(16)
        self.account_sid = "AC" + secrets.token_hex(16)
        self._seq = 0
        self._chunk = 0
        self._ws = None
        self._reader: asyncio.Task | None = None
        self._player: asyncio.Task | None = None
        self._buffer = bytearray()  # received, not yet played
        self._marks: deque[tuple[int, str]] = deque()  # (played position it waits for, name)
        self._queued = 0  # bytes ever queued for playback (minus cleared)
        self._played = 0
        self.played = bytearray()  # everything the caller heard, mu-law

    def _next_seq(self) -> str:
        self._seq += 1
        return str(self._seq)

    async def __aenter__(self) -> "TwilioCaller":
        self._ws = await websockets.connect(self.url, additional_headers=self.headers, max_size=None)
        await self.send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self.send({"event": "start", "sequenceNumber": self._next_seq(), "streamSid": self.stream_sid,
                         "start": {"accountSid": self.account_sid, "streamSid": self.stream_sid, "callSid": self.call_sid,
                                   "tracks": ["inbound"], "customParameters": self.custom,
                                   "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})
        self._reader = asyncio.create_task(self._read())
        self._player = asyncio.create_task(self._play())
        self._start_sending()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def send(self, message: dict) -> None:
        await self._ws.send(json.dumps(message))

    async def send_raw(self, data: str | bytes) -> None:
        await self._ws.send(data)

    async def _send_frame(self, samples8k: np.ndarray) -> None:
        self._chunk += 1
        await self.send({"event": "media", "sequenceNumber": self._next_seq(), "streamSid": self.stream_sid,
                         "media": {"track": "inbound", "chunk": str(self._chunk), "timestamp": str(self._chunk * 20),
                                   "payload": base64.b64encode(ulaw_encode(samples8k).tobytes()).decode()}})

    async def dtmf(self, digit: str) -> None:
        await self.send({"event": "dtmf", "streamSid": self.stream_sid, "sequenceNumber": self._next_seq(),
                         "dtmf": {"track": "inbound_track", "digit": digit}})

    async def stop(self) -> None:
        if self._ws is None:
            return
        self.ended = True
        await self._stop_sending()
        try:
            await self.send({"event": "stop", "sequenceNumber": self._next_seq(), "streamSid": self.stream_sid,
                             "stop": {"accountSid": self.account_sid, "callSid": self.call_sid}})
            await self._ws.close()
        except websockets.ConnectionClosed:
            pass
        for task in (self._reader, self._player):
            task.cancel()
        await asyncio.gather(self._reader, self._player, return_exceptions=True)
        self._ws = None

    async def _read(self) -> None:
        try:
            async for message in self._ws:
                msg = json.loads(message)
                event = msg.get("event")
                if event == "media":
                    audio = base64.b64decode(msg["media"]["payload"])
                    self._buffer += audio
                    self._queued += len(audio)
                    self.note("media", bytes=len(audio))
                elif event == "mark":
                    self._marks.append((self._queued, msg["mark"]["name"]))
                    self.note("mark_sent", name=msg["mark"]["name"])
                elif event == "clear":
                    self.note("clear", dropped=len(self._buffer))
                    self._queued -= len(self._buffer)
                    self._buffer.clear()
                    while self._marks:  # Twilio sends back the marks of the dropped audio at once
                        await self._echo_mark(self._marks.popleft()[1])
                else:
                    self.note("unexpected", message=msg)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.ended = True
            self.note("ended")

    async def _play(self) -> None:
        due = time.monotonic()
        while True:
            if self._buffer:
                frame = bytes(self._buffer[:FRAME])
                del self._buffer[:FRAME]
                self._played += len(frame)
                self.played += frame
                self.note("played", bytes=len(frame))
                while self._marks and self._marks[0][0] <= self._played:
                    await self._echo_mark(self._marks.popleft()[1])
            due += FRAME / RATE
            await asyncio.sleep(max(0.0, due - time.monotonic()))

    async def _echo_mark(self, name: str) -> None:
        try:
            await self.send({"event": "mark", "sequenceNumber": self._next_seq(), "streamSid": self.stream_sid,
                             "mark": {"name": name}})
        except websockets.ConnectionClosed:
            pass

    def heard_audio(self) -> np.ndarray:
        """What the caller heard, as 8 kHz float."""
        return ulaw_decode(np.frombuffer(bytes(self.played), np.uint8))


class AudioSocketCaller(PhoneCaller):
    """Asterisk's side of AudioSocket(uuid,host:port): signed linear 16-bit 8 kHz, 20 ms frames."""

    def __init__(self, host: str, port: int, *, call_uuid: uuid.UUID | None = None) -> None:
        super().__init__()
        self.host, self.port = host, port
        self.uuid = call_uuid or uuid.uuid4()
        self.received = bytearray()
        self._reader_task: asyncio.Task | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> "AudioSocketCaller":
        reader, self._writer = await asyncio.open_connection(self.host, self.port)
        self.send_message(0x01, self.uuid.bytes)
        self._reader_task = asyncio.create_task(self._read(reader))
        self._start_sending()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.hang_up()

    def send_message(self, kind: int, payload: bytes = b"") -> None:
        self._writer.write(struct.pack(">BH", kind, len(payload)) + payload)

    async def send_raw(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def _send_frame(self, samples8k: np.ndarray) -> None:
        self.send_message(0x10, float_to_pcm16(samples8k))
        await self._writer.drain()

    async def dtmf(self, digit: str) -> None:
        self.send_message(0x03, digit.encode("ascii"))
        await self._writer.drain()

    async def hang_up(self) -> None:
        if self._writer is None:
            return
        self.ended = True
        await self._stop_sending()
        try:
            self.send_message(0x00)
            await self._writer.drain()
            self._writer.close()
        except ConnectionError:
            pass
        if self._reader_task:
            self._reader_task.cancel()
            await asyncio.gather(self._reader_task, return_exceptions=True)
        self._writer = None

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                kind, length = struct.unpack(">BH", await reader.readexactly(3))
                payload = await reader.readexactly(length) if length else b""
                if kind == 0x10:
                    self.received += payload
                    self.note("audio", bytes=len(payload))
                elif kind == 0x00:
                    self.note("hangup")
                    break
                elif kind == 0xFF:
                    self.note("error", code=payload.hex())
                else:
                    self.note("unexpected", kind=kind, bytes=len(payload))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.ended = True
            self.note("ended")

    def heard_audio(self) -> np.ndarray:
        return pcm16_to_float(bytes(self.received[: len(self.received) // 2 * 2]))
