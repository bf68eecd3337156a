"""A simulated caller: streams real recorded speech into a running server at real-time pace and records
every event it gets back with its arrival time. Used by the tests and the latency/duplex benchmarks."""
from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import websockets

from server.audio import float_to_pcm16, resample


def load_clip(path: str | Path, rate: int = 16000) -> np.ndarray:
    audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return resample(audio.mean(axis=1), sr, rate)


class Caller:
    def __init__(self, url: str, *, rate: int = 24000, chunk_ms: int = 40, realtime: bool = True,
                 session: dict | None = None, headers: dict | None = None) -> None:
        self.url, self.rate, self.chunk_ms, self.realtime = url, rate, chunk_ms, realtime
        self.session_extra = session or {}
        self.headers = headers or {}
        self.events: list[tuple[float, dict]] = []  # (monotonic seconds, event)
        self.sent_audio_s = 0.0
        self._ws = None
        self._reader: asyncio.Task | None = None
        self._new_event = asyncio.Event()

    async def __aenter__(self) -> "Caller":
        self._ws = await websockets.connect(self.url, max_size=None, additional_headers=self.headers)
        self._reader = asyncio.create_task(self._read())
        await self.wait_for("session.created", timeout=10)
        audio = {"input": {"format": {"type": "audio/pcm", "rate": self.rate}},
                 "output": {"format": {"type": "audio/pcm", "rate": self.rate}}}
        extra = dict(self.session_extra)
        for side, fields in (extra.pop("audio", None) or {}).items():  # e.g. input.turn_detection, beside the format
            audio.setdefault(side, {}).update(fields)
        await self.send({"type": "session.update", "session": {"type": "realtime", "audio": audio, **extra}})
        await self.wait_for("session.updated", timeout=10)
        return self

    async def __aexit__(self, *exc) -> None:
        if self._reader:
            self._reader.cancel()
        if self._ws:
            await self._ws.close()

    async def _read(self) -> None:
        try:
            async for message in self._ws:
                self.events.append((time.monotonic(), json.loads(message)))
                self._new_event.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self._new_event.set()

    async def send(self, event: dict) -> None:
        await self._ws.send(json.dumps(event))

    async def send_raw(self, data: str | bytes) -> None:
        await self._ws.send(data)

    async def stream(self, samples16k: np.ndarray) -> float:
        """Send audio in chunks at real-time pace; returns the monotonic time the last chunk went out."""
        audio = resample(samples16k, 16000, self.rate)
        step = self.rate * self.chunk_ms // 1000
        start = time.monotonic()
        sent = 0
        for i in range(0, len(audio), step):
            chunk = audio[i:i + step]
            await self.send({"type": "input_audio_buffer.append",
                             "audio": base64.b64encode(float_to_pcm16(chunk)).decode()})
            sent += len(chunk)
            self.sent_audio_s += len(chunk) / self.rate
            if self.realtime:
                delay = start + sent / self.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
        return time.monotonic()

    async def silence(self, seconds: float) -> float:
        return await self.stream(np.zeros(int(seconds * 16000), np.float32))

    def of_type(self, kind: str) -> list[dict]:
        return [e for _, e in self.events if e.get("type") == kind]

    def first_time(self, kind: str, after: float = 0.0) -> float | None:
        return next((t for t, e in self.events if e.get("type") == kind and t >= after), None)

    async def wait_for(self, kind: str, *, timeout: float = 60, after_index: int = 0, where=None) -> dict:
        return await self.wait_for_any(lambda e: e.get("type") == kind and (where is None or where(e)),
                                       timeout=timeout, after_index=after_index, name=kind)

    async def wait_for_any(self, match, *, timeout: float = 60, after_index: int = 0, name: str = "matching event") -> dict:
        deadline = time.monotonic() + timeout
        seen = after_index
        while True:
            for _, event in self.events[seen:]:
                if match(event):
                    return event
            seen = len(self.events)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                kinds = [e.get("type") for _, e in self.events[-15:]]
                raise TimeoutError(f"no {name} within {timeout} s; last events: {kinds}")
            self._new_event.clear()
            try:
                await asyncio.wait_for(self._new_event.wait(), timeout=min(remaining, 1.0))
            except asyncio.TimeoutError:
                pass
            if self._reader and self._reader.done() and len(self.events) == seen:
                kinds = [e.get("type") for _, e in self.events[-15:]]
                errors = [e["error"] for e in self.of_type("error")][-3:]
                why = f"close code {self._ws.close_code}, {self._ws.close_reason!r}"
                raise ConnectionError(f"connection closed before {name} ({why}); last events: {kinds}; errors: {errors}")

    async def retrieve(self, item_id: str, *, timeout: float = 10) -> dict:
        """Ask for the server's history entry of an item: the conversation.item.retrieved event, or the error."""
        n = len(self.events)
        await self.send({"type": "conversation.item.retrieve", "item_id": item_id})

        def answer(e: dict) -> bool:
            return (e.get("type") == "conversation.item.retrieved" and e["item"]["id"] == item_id
                    or e.get("type") == "error" and item_id in e["error"]["message"])

        return await self.wait_for_any(answer, timeout=timeout, after_index=n, name=f"answer about {item_id}")

    async def wait_for_reply(self, *, timeout: float = 120, after_index: int = 0) -> dict:
        """The next response.done of a real reply: backchannels ("mm-hm") are responses of their own
        on the wire, and a caller waiting for the answer must not take one for it."""
        return await self.wait_for("response.done", timeout=timeout, after_index=after_index,
                                   where=lambda e: not is_backchannel(e))

    async def wait_for_reply_audio(self, *, timeout: float = 120, after_index: int = 0, where=None) -> dict:
        """The next audio delta of a real reply (not of a backchannel)."""
        def real(e: dict) -> bool:
            return e.get("response_id") not in self.backchannel_ids() and (where is None or where(e))

        return await self.wait_for("response.output_audio.delta", timeout=timeout, after_index=after_index,
                                   where=real)

    def first_reply_audio_time(self, after: float = 0.0) -> float | None:
        skip = self.backchannel_ids()
        return next((t for t, e in self.events if e.get("type") == "response.output_audio.delta" and t >= after
                     and e.get("response_id") not in skip), None)

    def time_of(self, event: dict) -> float:
        return next(t for t, e in self.events if e is event)

    def index_of(self, event: dict) -> int:
        return next(i for i, (_, e) in enumerate(self.events) if e is event)

    def backchannel_ids(self) -> set[str]:
        return {e["response"]["id"] for _, e in self.events if e.get("type") == "response.created" and is_backchannel(e)}

    def reply_audio_seconds(self, response_id: str | None = None) -> float:
        total = 0
        for e in self.of_type("response.output_audio.delta"):
            if response_id is None or e.get("response_id") == response_id:
                total += len(base64.b64decode(e["delta"])) // 2
        return total / self.rate

    def story(self) -> str:
        """What happened, one line per event that matters (for a failing test's message)."""
        lines = []
        for t, e in self.events:
            kind = e.get("type", "")
            if kind == "conversation.item.input_audio_transcription.completed":
                lines.append(f"{t:7.2f} user said {e.get('transcript')!r}")
            elif kind == "response.done":
                r = e.get("response") or {}
                lines.append(f"{t:7.2f} reply {r.get('id')} {r.get('status')}"
                             f"{' (backchannel)' if is_backchannel(e) else ''}: {spoken_text(r) or ''!r}")
            elif kind == "response.created":
                lines.append(f"{t:7.2f} reply {e['response'].get('id')} created")
            elif kind == "error":
                lines.append(f"{t:7.2f} error {e['error'].get('message')!r}")
            elif kind in ("input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
                          "warmline.escalation"):
                lines.append(f"{t:7.2f} {kind}")
        return "\n".join(lines)


def is_backchannel(event: dict) -> bool:
    response = event.get("response") or {}
    return bool((response.get("metadata") or {}).get("warmline_backchannel"))


def spoken_text(response: dict) -> str | None:
    """The words a response's audio carried (those heard, if it was cut), from its response.done."""
    output = response.get("output") or []
    content = output[0].get("content") if output else None
    return content[0].get("transcript") if content else None
