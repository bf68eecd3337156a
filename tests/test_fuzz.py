"""Fuzz tests (issue 19): the protocol parser, the payloads it hands on (session.update, an append's audio,
a typed item, a truncate) and every audio decoder, fed arbitrary text, JSON and bytes by hypothesis.

The property everywhere: an input either parses or is refused with the module's own error (ProtocolError,
FormatError / ValueError with a message, the Twilio reader's "skipped", AudioSocket's TruncatedMessage);
never another exception, never a hang; decoded audio is finite and within [-1, 1].

Each defect these found is fixed, and its smallest input stays as a test of its own (`test_found_by_fuzzing_*`).
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from server.audio import StreamResampler, b64_to_float, float_to_pcm16, pcm16_to_float
from server.formats import PCM_RATES, AudioFormat, FormatError, alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from server.protocol import CLIENT_EVENTS, ProtocolError, SessionSettings, parse_client_event
from server.telephony import audiosocket, codecs, twilio

# WARMLINE_FUZZ_EXAMPLES=5000 for a long hunt; the default keeps the file well under a minute.
EXAMPLES = int(os.environ.get("WARMLINE_FUZZ_EXAMPLES", "200"))
# database=None: no .hypothesis/ folder in the work tree; a failure prints its input, which becomes an @example.
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=max(10, EXAMPLES // 5), deadline=None, database=None,
               suppress_health_check=[HealthCheck.too_slow])


# --- strategies --------------------------------------------------------------------------------------------

# JSON as Python's json module reads it: NaN and +-Infinity included (json.loads accepts them), big integers too.
scalars = (st.none() | st.booleans() | st.integers() | st.integers(-(10 ** 30), 10 ** 30)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)

# Values that look like what the fields want, and values that do not.
rates = st.sampled_from(PCM_RATES) | st.integers(-1, 100_000) | st.floats() | st.sampled_from(["24000", None, [], {}])
format_specs = (st.fixed_dictionaries({}, optional={"type": st.sampled_from(["audio/pcm", "audio/pcmu", "audio/pcma",
                                                                              "audio/opus", ""]) | json_values,
                                                    "rate": rates})
                | st.sampled_from(["pcm16", "g711_ulaw", "g711_alaw", "audio/pcm", "wav"]) | json_values)
numbers = st.integers(-10 ** 6, 10 ** 6) | st.floats() | st.text(max_size=6) | st.none() | json_values
turn_detections = st.none() | st.fixed_dictionaries({}, optional={
    "type": st.sampled_from(["server_vad", "semantic_vad", "none"]) | json_values,
    "threshold": numbers, "silence_duration_ms": numbers, "prefix_padding_ms": numbers,
    "create_response": json_values, "interrupt_response": json_values}) | json_values
sides = st.fixed_dictionaries({}, optional={"format": format_specs, "turn_detection": turn_detections,
                                            "voice": json_values}) | json_values
session_payloads = (st.fixed_dictionaries({}, optional={
    "type": st.just("realtime"), "instructions": st.text(max_size=30) | json_values,
    "audio": st.fixed_dictionaries({}, optional={"input": sides, "output": sides}) | json_values,
    "input_audio_format": format_specs, "output_audio_format": format_specs, "turn_detection": turn_detections,
    "voice": json_values}) | json_values)
event_types = st.sampled_from(sorted(CLIENT_EVENTS)) | st.text(max_size=30) | json_values
events = st.fixed_dictionaries({"type": event_types}, optional={
    "event_id": json_values, "session": session_payloads, "audio": st.text(max_size=40) | json_values,
    "item": json_values, "item_id": json_values, "audio_end_ms": numbers}) | json_values

def _expect_protocol_error(exc: ProtocolError) -> None:
    assert isinstance(exc.code, str) and re.fullmatch(r"[a-z][a-z_]*", exc.code), exc.code  # PROTOCOL.md's codes
    assert isinstance(exc.message, str) and exc.message.strip()


# --- parse_client_event -------------------------------------------------------------------------------------

def _check_parse(text: str) -> None:
    try:
        event = parse_client_event(text)
    except ProtocolError as exc:
        _expect_protocol_error(exc)
        return
    assert isinstance(event, dict) and event["type"] in CLIENT_EVENTS


@FUZZ
@given(st.text(max_size=200))
@example("")
@example("\x00")
@example('{"type": "response.create", "type": 3}')
def test_parse_client_event_arbitrary_text(text):
    _check_parse(text)


@FUZZ
@given(events)
@example({"type": "session.update", "event_id": ["x"]})
@example({"type": "bogus", "event_id": {"a": 1}})
def test_parse_client_event_arbitrary_json(event):
    _check_parse(json.dumps(event))


@FEW
@given(st.integers(1, 50_000), st.sampled_from("[{"))
def test_parse_client_event_deep_nesting(depth, bracket):
    text = ('{"a":' * depth + "1" + "}" * depth) if bracket == "{" else ("[" * depth + "]" * depth)
    _check_parse(text)


# --- session.update ------------------------------------------------------------------------------------------

@FUZZ
@given(session_payloads)
@example({"audio": {"input": {"format": {"type": "audio/pcmu", "rate": 8000.0}}}})
@example({"turn_detection": {"threshold": float("nan")}})
@example({"turn_detection": {"silence_duration_ms": "700"}})
def test_session_update_applies_or_refuses_whole(payload):
    s = SessionSettings(id="sess_fuzz")
    before = json.dumps(s.to_dict())
    try:
        s.update(payload)
    except ProtocolError as exc:
        _expect_protocol_error(exc)
        assert json.dumps(s.to_dict()) == before, "a refused update changed the session"
        return
    # accepted: the session is one a client could have asked for
    assert s.input_format.type in ("audio/pcm", "audio/pcmu", "audio/pcma") and s.input_format.rate in PCM_RATES
    assert s.output_format.type in ("audio/pcm", "audio/pcmu", "audio/pcma") and s.output_format.rate in PCM_RATES
    assert isinstance(s.input_format.rate, int) and isinstance(s.output_format.rate, int)
    td = s.turn_detection
    if td.type is not None:
        assert 0.0 < td.threshold < 1.0 and 100 <= td.silence_duration_ms <= 10000
        assert isinstance(td.silence_duration_ms, int) and isinstance(td.prefix_padding_ms, int)
    assert s.instructions is None or isinstance(s.instructions, str)
    json.dumps(s.to_dict())


@FUZZ
@given(format_specs)
def test_audio_format_parse(spec):
    try:
        fmt = AudioFormat.parse(spec)
    except FormatError as exc:
        assert str(exc).strip()
        return
    assert fmt.type in ("audio/pcm", "audio/pcmu", "audio/pcma") and fmt.rate in PCM_RATES
    assert fmt.type == "audio/pcm" or fmt.rate == 8000


# --- input_audio_buffer.append payload ------------------------------------------------------------------------

def _b64decode():
    from server.session import _b64decode

    return _b64decode


b64ish = (st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", max_size=80)
          | st.text(max_size=40) | st.binary(max_size=60).map(lambda b: base64.b64encode(b).decode()))


@FUZZ
@given(b64ish, st.integers(1, 64))
@example("", 10)
@example("====", 10)
@example("AA==", 10)
@example("\u0100AAA", 10)
def test_append_payload_decodes_or_is_refused(text, limit):
    try:
        data = _b64decode()(text, limit)
    except ProtocolError as exc:
        _expect_protocol_error(exc)
        assert exc.code in ("invalid_audio", "audio_too_large")
        return
    assert isinstance(data, bytes) and 0 < len(data)
    assert len(data) <= limit + 3  # the cheap length check on the text bounds what is decoded (to a base64 quantum)


formats = st.sampled_from([AudioFormat("audio/pcm", r) for r in PCM_RATES]
                          + [AudioFormat("audio/pcmu", 8000), AudioFormat("audio/pcma", 8000)])


def _assert_audio(samples: np.ndarray, *, bound: float = 1.0) -> None:
    assert samples.dtype == np.float32 and samples.ndim == 1
    if samples.size:
        assert np.isfinite(samples).all()
        assert float(np.abs(samples).max()) <= bound


@FUZZ
@given(formats, st.binary(max_size=400))
@example(AudioFormat("audio/pcm", 24000), b"")
@example(AudioFormat("audio/pcm", 24000), b"\x00")
@example(AudioFormat("audio/pcm", 24000), b"\x00\x80")
def test_wire_format_decode(fmt, data):
    try:
        samples = fmt.decode(data)
    except ValueError as exc:  # FormatError is one
        assert str(exc).strip()
        assert not data or (fmt.type == "audio/pcm" and len(data) % 2)
        return
    assert len(samples) == len(data) // fmt.bytes_per_sample
    _assert_audio(samples)


@FEW
@given(formats, st.lists(st.binary(min_size=2, max_size=600), min_size=1, max_size=6))
def test_session_input_path_decode_then_resample_to_16k(fmt, chunks):
    """What feed_wire_audio does with an append: decode in the session's format, then resample to 16 kHz in
    a stream. Arbitrary bytes (full-scale noise, clicks) must come out finite and bounded."""
    resampler = StreamResampler(fmt.rate, 16000)
    for chunk in chunks:
        chunk = chunk[: len(chunk) // fmt.bytes_per_sample * fmt.bytes_per_sample]
        if not chunk:
            continue
        out = resampler(fmt.decode(chunk))
        _assert_audio(out)
    _assert_audio(resampler(np.zeros(0, np.float32), last=True))


# --- the G.711 and PCM16 decoders -----------------------------------------------------------------------------

def test_g711_decoders_cover_every_code_within_range():
    codes = np.arange(256, dtype=np.uint8)
    for decode in (ulaw_decode, alaw_decode):
        out = decode(codes)
        _assert_audio(out)
        assert len(np.unique(out)) >= 255  # mu-law has +0 and -0


@FUZZ
@given(st.lists(st.floats(-1.5, 1.5, allow_nan=False), min_size=1, max_size=200))
def test_g711_round_trip_stays_within_a_quantisation_step(values):
    x = np.asarray(values, np.float32)
    for encode, decode in ((ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)):
        codes = encode(x)
        assert codes.dtype == np.uint8 and codes.shape == x.shape
        y = decode(codes)
        _assert_audio(y)
        clipped = np.clip(x, -1.0, 1.0)
        # G.711's step is at most 1/32 of full scale at the top segment (1024 / 32768), tighter below
        assert float(np.abs(y - clipped).max()) <= 1024 / 32768 + 1e-6


@FUZZ
@given(st.binary(max_size=400))
def test_pcm16_decoders(data):
    try:
        samples = pcm16_to_float(data)
    except ValueError as exc:
        assert len(data) % 2 and str(exc).strip()
        return
    _assert_audio(samples)
    assert float_to_pcm16(samples) == data  # exact: every int16 survives the float and back


@FUZZ
@given(b64ish)
def test_b64_to_float(text):
    try:
        samples = b64_to_float(text)
    except ValueError as exc:  # binascii.Error is one
        assert str(exc).strip()
        return
    _assert_audio(samples)


# --- the phone codecs ------------------------------------------------------------------------------------------

@FUZZ
@given(st.binary(max_size=800))
def test_phone_mulaw_and_slin_decoders(data):
    pcm = codecs.mulaw_to_pcm16(data)
    assert len(pcm) == 2 * len(data)
    if data:
        _assert_audio(codecs.from_mulaw(data), bound=1.0)
    try:
        samples = codecs.from_slin(data)
    except ValueError as exc:
        assert len(data) % 2 and str(exc).strip()
        return
    _assert_audio(samples, bound=1.0)


@FEW
@given(st.lists(st.floats(-1.0, 1.0, allow_nan=False, width=32), min_size=1, max_size=400))
def test_phone_encoders_take_any_bounded_audio(values):
    x = np.asarray(values, np.float32)
    _assert_audio(codecs.from_mulaw(codecs.to_mulaw(x)), bound=1.0)
    _assert_audio(codecs.from_slin(codecs.to_slin(x)), bound=1.0)


def test_full_scale_square_wave_through_the_phone_decoders_stays_in_range():
    """The resampler's filter rings at sharp edges (Gibbs); what the decoders return must still be audio."""
    square = np.tile(np.r_[np.full(4, 32767, "<i2"), np.full(4, -32768, "<i2")], 200).tobytes()
    _assert_audio(codecs.from_slin(square))
    _assert_audio(codecs.from_mulaw(codecs.pcm16_to_mulaw(square)))
    resampler = StreamResampler(8000, 16000)
    _assert_audio(np.concatenate([resampler(pcm16_to_float(square)), resampler(np.zeros(0, np.float32), last=True)]))


# --- Twilio Media Streams ----------------------------------------------------------------------------------------

class FakeCall:
    def __init__(self) -> None:
        self.malformed, self.heard, self.digits, self.ended = 0, [], [], None

    async def hear(self, audio: bytes) -> None:
        assert isinstance(audio, bytes) and audio
        self.heard.append(audio)

    async def dtmf(self, digit: str) -> None:
        assert isinstance(digit, str)
        self.digits.append(digit)

    async def confirm_playback(self, item_id: str) -> None:
        pass

    async def end(self, *, reason: str) -> None:
        self.ended = reason


class FakeWs:
    def __init__(self, messages) -> None:
        self.messages, self.sent = list(messages), []

    def __aiter__(self):
        return self._iter()

    async def _iter(self):
        for m in self.messages:
            yield m

    async def send(self, text: str) -> None:
        self.sent.append(text)

    async def close(self) -> None:
        pass


async def _open_call(line, start):
    return FakeCall()


twilio_events = st.sampled_from(["connected", "start", "media", "mark", "dtmf", "stop", "other"]) | json_values
twilio_messages = st.fixed_dictionaries({"event": twilio_events}, optional={
    "streamSid": json_values,
    "start": st.fixed_dictionaries({}, optional={
        "streamSid": st.text(max_size=8) | json_values, "callSid": json_values,
        "mediaFormat": st.fixed_dictionaries({}, optional={"encoding": st.just("audio/x-mulaw") | json_values,
                                                           "sampleRate": st.just(8000) | json_values}) | json_values})
    | json_values,
    "media": st.fixed_dictionaries({}, optional={"payload": b64ish | json_values, "track": st.sampled_from(
        ["inbound", "outbound"]) | json_values}) | json_values,
    "mark": st.fixed_dictionaries({}, optional={"name": json_values}) | json_values,
    "dtmf": st.fixed_dictionaries({}, optional={"digit": json_values}) | json_values,
}) | json_values
START = {"event": "start", "start": {"streamSid": "MZ1", "callSid": "CA1",
                                     "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000}}}


def _run_twilio(frames) -> twilio.TwilioMediaStream:
    stream = twilio.TwilioMediaStream(ws=FakeWs(frames), open_call=_open_call)
    asyncio.run(asyncio.wait_for(stream.run(), 10))
    return stream


@FUZZ
@given(st.lists(twilio_messages.map(json.dumps) | st.text(max_size=40) | st.binary(max_size=40), max_size=6),
       st.booleans())
@example([json.dumps({"event": "start", "start": {"streamSid": "s", "mediaFormat": "x"}})], False)
@example([json.dumps({"event": "start", "start": {"streamSid": "s", "mediaFormat": {"sampleRate": "8k"}}})], False)
@example(["[" * 20_000], False)
def test_twilio_stream_skips_what_it_cannot_read(frames, started):
    frames = ([json.dumps(START)] if started else []) + frames
    stream = _run_twilio(frames)
    if stream.call is not None:
        assert stream.call.ended in ("caller_hung_up", "stream_stopped")
        assert all(isinstance(a, bytes) and a for a in stream.call.heard)


def test_twilio_stream_counts_garbage_and_still_hears_the_caller():
    audio = bytes(range(160))
    frames = [b"\x00\xff", "not json", json.dumps([1]), json.dumps({"event": 5}), json.dumps(START),
              json.dumps({"event": "media", "media": {"payload": "***"}}),
              json.dumps({"event": "media", "media": {"payload": base64.b64encode(audio).decode()}}),
              json.dumps({"event": "dtmf", "dtmf": {}}), json.dumps({"event": "stop"})]
    stream = _run_twilio(frames)
    assert stream.call.heard == [audio] and stream.call.ended == "stream_stopped"
    assert stream.call.malformed == 6


# --- Asterisk AudioSocket -------------------------------------------------------------------------------------------

def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def _read_all(data: bytes) -> tuple[list[audiosocket.Message], str]:
    reader, messages = _reader(data), []
    while True:
        try:
            msg = await audiosocket.read_message(reader)
        except audiosocket.TruncatedMessage as exc:
            assert str(exc).strip()
            return messages, "truncated"
        if msg is None:
            return messages, "end"
        messages.append(msg)


messages = st.builds(lambda kind, payload: audiosocket.encode(kind, payload),
                     st.sampled_from([0x00, 0x01, 0x03, 0x10, 0xFF]) | st.integers(0, 255), st.binary(max_size=400))


@FUZZ
@given(st.lists(messages, max_size=6).map(b"".join), st.binary(max_size=40))
def test_audiosocket_reader_reads_frames_or_reports_truncation(framed, tail):
    data = framed + tail
    got, how = asyncio.run(asyncio.wait_for(_read_all(data), 10))
    consumed = sum(3 + len(m.payload) for m in got)
    assert consumed <= len(data) and data[:consumed] == b"".join(audiosocket.encode(m.kind, m.payload) for m in got)
    assert (how == "end") == (consumed == len(data))


class FakeWriter:
    def __init__(self) -> None:
        self.data, self.closed = bytearray(), False

    def write(self, data: bytes) -> None:
        self.data += data

    async def drain(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name):
        return ("127.0.0.1", 4573) if name == "peername" else None


@FUZZ
@given(st.booleans(), st.lists(messages, max_size=5).map(b"".join), st.binary(max_size=30))
@example(True, audiosocket.encode(0x03, b""), b"")
@example(True, audiosocket.encode(0x03, b"\xff\xfe"), b"")
@example(False, b"", b"\x01\x00")
def test_audiosocket_connection_ends_cleanly_on_any_bytes(with_uuid, framed, tail):
    calls: list[FakeCall] = []

    async def open_call(line, info):
        calls.append(FakeCall())
        return calls[-1]

    async def go():
        head = audiosocket.encode(audiosocket.UUID, bytes(range(16))) if with_uuid else b""
        writer = FakeWriter()
        conn = audiosocket.AudioSocketConnection(reader=_reader(head + framed + tail), writer=writer,
                                                 open_call=open_call, idle_s=5)
        await asyncio.wait_for(conn.run(), 10)
        return writer

    writer = asyncio.run(go())
    assert writer.closed
    for call in calls:
        assert call.ended in ("caller_hung_up", "connection_closed", "truncated_message", "asterisk_error")
        assert all(len(d) <= 1 for d in call.digits)


# --- item create / truncate / retrieve payloads (session.py, on a bare session: no models) -----------------------

def _bare_session():
    from dialogue.conversation import Conversation
    from server.session import Session

    s = Session.__new__(Session)
    s.conversation, s._recent_responses, s._closed, s.sent = Conversation(), {}, False, []

    async def send(event):
        json.dumps(event)
        s.sent.append(event)

    s._send = send
    s.conversation.add_assistant("Hello there, how are you?", item_id="item_a1")
    return s


def _check_session_call(coro_fn) -> None:
    try:
        asyncio.run(coro_fn())
    except ProtocolError as exc:
        _expect_protocol_error(exc)


content_parts = st.lists(st.fixed_dictionaries({}, optional={"type": st.just("input_text") | json_values,
                                                             "text": st.text(max_size=20) | json_values,
                                                             "transcript": json_values}) | json_values, max_size=3)
items = st.fixed_dictionaries({}, optional={"type": st.just("message") | json_values,
                                            "role": st.sampled_from(["user", "assistant", "system"]) | json_values,
                                            "id": st.text(max_size=8) | json_values,
                                            "content": content_parts | json_values}) | json_values


@FUZZ
@given(items)
def test_item_create_payload(item):
    s = _bare_session()
    _check_session_call(lambda: s._create_item(item))


@FUZZ
@given(st.sampled_from(["item_a1", "item_nope"]) | json_values, numbers)
@example("item_a1", 0)
def test_truncate_and_retrieve_payloads(item_id, played):
    s = _bare_session()
    _check_session_call(lambda: s._truncate({"item_id": item_id, "audio_end_ms": played}))
    _check_session_call(lambda: s._retrieve_item(item_id))
    _check_session_call(lambda: s.handle({"type": "warmline.playback", "item_id": item_id, "state": "started"}))


# --- the known defects, one input each ---------------------------------------------------------------------------

def _never_raises_other_than_protocol_error(fn) -> None:
    try:
        fn()
    except ProtocolError:
        pass


def test_parse_client_event_refuses_a_json_bomb():
    with pytest.raises(ProtocolError) as e:
        parse_client_event("[" * 100_000)
    assert e.value.code == "invalid_json"


def test_found_by_fuzzing_parse_client_event_long_integer():
    _never_raises_other_than_protocol_error(
        lambda: parse_client_event('{"type": "response.create", "n": ' + "1" * 5000 + "}"))


def test_found_by_fuzzing_session_update_audio_not_an_object():
    _never_raises_other_than_protocol_error(lambda: SessionSettings().update({"audio": {"input": "pcm16"}}))


def test_found_by_fuzzing_session_update_infinite_silence():
    _never_raises_other_than_protocol_error(
        lambda: SessionSettings().update(json.loads('{"turn_detection": {"silence_duration_ms": Infinity}}')))


def test_found_by_fuzzing_item_create_with_numeric_text():
    s = _bare_session()
    _never_raises_other_than_protocol_error(lambda: asyncio.run(s._create_item(
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": 5}]})))


def test_found_by_fuzzing_playback_report_with_a_list_item_id():
    s = _bare_session()
    _never_raises_other_than_protocol_error(lambda: asyncio.run(s.handle(
        {"type": "warmline.playback", "item_id": [], "state": "started"})))


def test_found_by_fuzzing_truncate_with_nan_audio_end():
    s = _bare_session()
    _never_raises_other_than_protocol_error(lambda: asyncio.run(s._truncate(
        json.loads('{"type": "conversation.item.truncate", "item_id": "item_a1", "audio_end_ms": NaN}'))))

