import json

import numpy as np
import pytest

from server.formats import AudioFormat, FormatError, alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from server.protocol import ProtocolError, SessionSettings, parse_client_event
from server.response import SpokenClause, heard_text


def test_parse_rejects_bad_events_with_codes():
    with pytest.raises(ProtocolError) as e:
        parse_client_event("{oops")
    assert e.value.code == "invalid_json"
    with pytest.raises(ProtocolError) as e:
        parse_client_event("[1, 2]")
    assert e.value.code == "invalid_event"
    with pytest.raises(ProtocolError) as e:
        parse_client_event(json.dumps({"type": "bogus.event", "event_id": "x1"}))
    assert e.value.code == "invalid_event" and e.value.event_id == "x1"
    assert parse_client_event(json.dumps({"type": "response.create"}))["type"] == "response.create"


def test_session_update_ga_and_beta_shapes():
    s = SessionSettings()
    s.update({"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000},
                                                      "turn_detection": {"type": "server_vad", "silence_duration_ms": 800}},
                                            "output": {"format": {"type": "audio/pcmu"}}}})
    assert s.input_format == AudioFormat("audio/pcm", 16000)
    assert s.output_format == AudioFormat("audio/pcmu", 8000)
    assert s.turn_detection.silence_duration_ms == 800
    s.update({"input_audio_format": "g711_alaw", "turn_detection": None})
    assert s.input_format == AudioFormat("audio/pcma", 8000)
    assert s.turn_detection.type is None
    assert s.to_dict()["audio"]["input"]["turn_detection"] is None


def test_a_partial_turn_detection_update_keeps_the_other_fields():
    s = SessionSettings()
    s.update({"audio": {"input": {"turn_detection": {"threshold": 0.3, "create_response": False}}}})
    s.update({"audio": {"input": {"turn_detection": {"silence_duration_ms": 2500}}}})
    td = s.turn_detection
    assert (td.threshold, td.silence_duration_ms, td.create_response) == (0.3, 2500, False)


def test_session_update_is_all_or_nothing():
    s = SessionSettings()
    with pytest.raises(ProtocolError) as e:
        s.update({"instructions": "x", "audio": {"input": {"format": {"type": "audio/pcm", "rate": 1234}}}})
    assert e.value.code == "invalid_format"
    assert s.instructions is None and s.input_format.rate == 24000
    with pytest.raises(ProtocolError):
        s.update({"audio": {"input": {"turn_detection": {"threshold": 7}}}})
    assert s.turn_detection.threshold == 0.5


def test_format_errors_are_clear():
    with pytest.raises(FormatError, match="8000 Hz only"):
        AudioFormat.parse({"type": "audio/pcmu", "rate": 16000})
    with pytest.raises(FormatError, match="unsupported audio format"):
        AudioFormat.parse({"type": "audio/opus"})
    with pytest.raises(FormatError, match="empty"):
        AudioFormat().decode(b"")


@pytest.mark.parametrize("encode,decode", [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)])
def test_g711_round_trip_keeps_a_tone(encode, decode):
    t = np.arange(8000) / 8000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    back = decode(encode(tone))
    snr = 10 * np.log10(np.sum(tone ** 2) / np.sum((tone - back) ** 2))
    assert snr > 30  # G.711 gives ~38 dB on a loud tone
    assert encode(tone).dtype == np.uint8 and len(encode(tone)) == len(tone)


def test_g711_matches_the_standard_table_at_known_points():
    # mu-law: silence encodes as 0xFF, full-scale positive as 0x80; A-law: silence as 0xD5
    assert ulaw_encode(np.array([0.0]))[0] == 0xFF
    assert ulaw_encode(np.array([1.0]))[0] == 0x80
    assert alaw_encode(np.array([0.0]))[0] == 0xD5


def test_heard_text_cuts_inside_a_clause():
    clauses = [SpokenClause("I hear you.", 0, 1000), SpokenClause("That sounds really hard today.", 1000, 2000)]
    assert heard_text(clauses, 0) == ""
    assert heard_text(clauses, 1000) == "I hear you."
    assert heard_text(clauses, 2000) == "I hear you. That sounds"  # 2.5 of 5 words: only whole words count
    assert heard_text(clauses, 10_000) == "I hear you. That sounds really hard today."
