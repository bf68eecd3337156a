"""The conversation protocol: OpenAI Realtime GA event names, plus `warmline.*` events (see PROTOCOL.md)."""
from __future__ import annotations

import itertools
import json
import secrets
from dataclasses import dataclass, field, replace

from server.formats import AudioFormat, FormatError

CLIENT_EVENTS = {
    "session.update", "input_audio_buffer.append", "input_audio_buffer.commit", "input_audio_buffer.clear",
    "conversation.item.create", "conversation.item.truncate", "conversation.item.delete",
    "conversation.item.retrieve", "response.create", "response.cancel", "warmline.playback",
}

# Event names of the beta Realtime API, for clients that ask for them with `OpenAI-Beta: realtime=v1`.
BETA_NAMES = {
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
    "conversation.item.added": "conversation.item.created",
}


class ProtocolError(Exception):
    def __init__(self, code: str, message: str, *, event_id: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.event_id = code, message, event_id


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def parse_client_event(text: str) -> dict:
    try:
        event = json.loads(text)
    except RecursionError:  # a "JSON bomb" of nested brackets
        raise ProtocolError("invalid_json", "JSON nested too deeply") from None
    except ValueError as exc:  # bad JSON, bad UTF-8, an integer of thousands of digits
        raise ProtocolError("invalid_json", f"not valid JSON: {exc}") from None
    if not isinstance(event, dict):
        raise ProtocolError("invalid_event", "an event is a JSON object")
    kind = event.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("invalid_event", "event has no string 'type'", event_id=event.get("event_id"))
    if kind not in CLIENT_EVENTS:
        raise ProtocolError("invalid_event", f"unknown event type {kind!r}", event_id=event.get("event_id"))
    return event


def message_item(item_id: str, role: str, status: str, transcript: str | None) -> dict:
    """A conversation item as the Realtime API shows it: one audio part, the user's heard or the agent's spoken."""
    part = "input_audio" if role == "user" else "output_audio"
    return {"id": item_id, "object": "realtime.item", "type": "message", "role": role, "status": status,
            "content": [{"type": part, "transcript": transcript}]}


def error_event(code: str, message: str, *, event_id: str | None = None) -> dict:
    kind = "invalid_request_error" if code.startswith("invalid") or code in ("audio_too_large", "unknown_item") else "server_error"
    return {"type": "error", "error": {"type": kind, "code": code, "message": message, "event_id": event_id}}


@dataclass
class TurnDetection:
    type: str | None = "server_vad"  # None: the client commits turns itself
    threshold: float = 0.5
    silence_duration_ms: int = 600
    prefix_padding_ms: int = 300
    create_response: bool = True
    interrupt_response: bool = True

    def to_dict(self) -> dict | None:
        if self.type is None:
            return None
        return {"type": self.type, "threshold": self.threshold, "silence_duration_ms": self.silence_duration_ms,
                "prefix_padding_ms": self.prefix_padding_ms, "create_response": self.create_response,
                "interrupt_response": self.interrupt_response}


@dataclass
class SessionSettings:
    id: str = field(default_factory=lambda: new_id("sess"))
    model: str = "warmline"
    instructions: str | None = None
    input_format: AudioFormat = field(default_factory=AudioFormat)
    output_format: AudioFormat = field(default_factory=AudioFormat)
    turn_detection: TurnDetection = field(default_factory=TurnDetection)
    voice: str = "warmline"
    voices: tuple[str, ...] = ()  # the names `voice` may take (the server's voices); empty: any
    transcription: dict = field(default_factory=lambda: {"model": "whisper"})

    def update(self, session: object) -> None:
        """Apply a `session.update` payload; all-or-nothing, so a bad field leaves the session as it was."""
        if not isinstance(session, dict):
            raise ProtocolError("invalid_event", "session.update needs a 'session' object")
        audio = _object(session.get("audio"), "audio")
        inp, out = _object(audio.get("input"), "audio.input"), _object(audio.get("output"), "audio.output")
        # Beta shape: input_audio_format / output_audio_format / turn_detection at the top level.
        in_spec = inp.get("format", session.get("input_audio_format"))
        out_spec = out.get("format", session.get("output_audio_format"))
        try:
            input_format = AudioFormat.parse(in_spec) if in_spec is not None else self.input_format
            output_format = AudioFormat.parse(out_spec) if out_spec is not None else self.output_format
        except FormatError as exc:
            raise ProtocolError("invalid_format", str(exc)) from None
        td_present = "turn_detection" in inp or "turn_detection" in session
        td_spec = inp.get("turn_detection", session.get("turn_detection"))
        turn_detection = self._parse_turn_detection(td_spec) if td_present else self.turn_detection
        voice = out.get("voice", session.get("voice", self.voice))
        if not isinstance(voice, str) or (self.voices and voice not in self.voices):
            raise ProtocolError("invalid_voice", f"unknown voice {voice!r}; this server speaks "
                                f"{', '.join(self.voices) or 'its default voice'}; the session keeps {self.voice!r}")
        instructions = session.get("instructions", self.instructions)
        if instructions is not None and not isinstance(instructions, str):
            raise ProtocolError("invalid_event", "instructions must be a string")
        self.input_format, self.output_format, self.turn_detection = input_format, output_format, turn_detection
        self.instructions = instructions
        self.voice = voice

    def _parse_turn_detection(self, spec: object) -> TurnDetection:
        if spec is None:
            return TurnDetection(type=None)
        if not isinstance(spec, dict):
            raise ProtocolError("invalid_event", "turn_detection must be an object or null")
        kind = spec.get("type", "server_vad")
        if kind not in ("server_vad", "semantic_vad"):
            raise ProtocolError("invalid_event", f"unsupported turn_detection type {kind!r}")
        # unspecified fields keep their current values, as in OpenAI's session.update
        td = replace(self.turn_detection, type=kind)
        try:
            td.threshold = float(spec.get("threshold", td.threshold))
            td.silence_duration_ms = int(spec.get("silence_duration_ms", td.silence_duration_ms))
            td.prefix_padding_ms = int(spec.get("prefix_padding_ms", td.prefix_padding_ms))
        except (TypeError, ValueError, OverflowError):
            raise ProtocolError("invalid_event", "turn_detection numbers must be finite numbers") from None
        if not (0.0 < td.threshold < 1.0) or not (100 <= td.silence_duration_ms <= 10000):
            raise ProtocolError("invalid_event", "threshold must be in (0, 1) and silence_duration_ms in [100, 10000]")
        td.create_response = bool(spec.get("create_response", td.create_response))
        td.interrupt_response = bool(spec.get("interrupt_response", td.interrupt_response))
        return td

    def to_dict(self) -> dict:
        return {
            "type": "realtime", "object": "realtime.session", "id": self.id, "model": self.model,
            "output_modalities": ["audio"], "instructions": self.instructions or "",
            "audio": {
                "input": {"format": self.input_format.to_dict(), "transcription": self.transcription,
                          "turn_detection": self.turn_detection.to_dict()},
                "output": {"format": self.output_format.to_dict(), "voice": self.voice,
                           **({"warmline_voices": list(self.voices)} if self.voices else {})},
            },
        }


def _object(value: object, name: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProtocolError("invalid_event", f"session.{name} must be an object")
    return value


class EventIds:
    def __init__(self) -> None:
        self._n = itertools.count(1)
        self._prefix = secrets.token_hex(4)

    def next(self) -> str:
        return f"event_{self._prefix}{next(self._n):06d}"
