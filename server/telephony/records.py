"""Per-call records a hotline needs: when a call started and ended, how long it lasted, what was escalated and
why, whether a human was brought in. Off by default (`--call-records DIR`). The caller's audio is kept only
when the operator also turns recording on (`--call-recording`); transcripts are never written."""
from __future__ import annotations

import json
import logging
import time
import wave
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

log = logging.getLogger("warmline.telephony.records")


def _utc(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class CallRecord:
    call_id: str
    transport: str
    started_at: str = ""
    ended_at: str | None = None
    duration_s: float | None = None
    end_reason: str | None = None
    escalations: list[dict] = field(default_factory=list)
    handover: dict | None = None
    barge_ins: int = 0  # times the caller talked over the agent and the phone's buffer was dropped
    malformed_messages: int = 0
    recording: str | None = None  # the caller's audio file, only with recording on


class CallRecorder:
    """Writes one call's record as JSON (and, with recording on, the caller's audio as a WAV) into a folder."""

    def __init__(self, *, folder: str | Path, call_id: str, transport: str, recording: bool) -> None:
        self._t0 = time.time()
        self.record = CallRecord(call_id=call_id, transport=transport, started_at=_utc(self._t0))
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = f"{datetime.fromtimestamp(self._t0, timezone.utc):%Y%m%dT%H%M%SZ}-{_safe(call_id)}"
        self.path = self.folder / f"{stem}.json"
        self._wav = None
        if recording:
            wav_path = self.folder / f"{stem}.caller.wav"
            self._wav = wave.open(str(wav_path), "wb")
            self._wav.setnchannels(1)
            self._wav.setsampwidth(2)
            self._wav.setframerate(8000)
            self.record.recording = wav_path.name

    def caller_audio(self, pcm16_8k: bytes) -> None:
        if self._wav is not None:
            self._wav.writeframes(pcm16_8k)

    def escalation(self, *, source: str, category: str | None, level: str | None, reason: str | None) -> None:
        self.record.escalations.append({"at": _utc(time.time()), "source": source, "category": category,
                                        "level": level, "reason": reason})

    def barge_in(self) -> None:
        self.record.barge_ins += 1

    def handover(self, outcome: dict) -> None:
        self.record.handover = {"at": _utc(time.time()), **outcome}

    def close(self, *, reason: str, malformed: int) -> None:
        t1 = time.time()
        self.record.ended_at, self.record.duration_s = _utc(t1), round(t1 - self._t0, 2)
        self.record.end_reason, self.record.malformed_messages = reason, malformed
        if self._wav is not None:
            self._wav.close()
            self._wav = None
        try:
            partial = self.path.with_suffix(".json.partial")  # a reader never sees half a record
            partial.write_text(json.dumps(asdict(self.record), indent=2) + "\n")
            partial.replace(self.path)
        except OSError as exc:  # a full disk must not take the call down with it
            log.error("could not write the call record %s: %s", self.path, exc)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:64] or "call"
