"""The phone line's parts on their own: G.711 against the standard's values, the narrowband conversions, Twilio's
request signature (its documented example), TwiML, AudioSocket framing, the playout ledger, the handover's far
ends (a local fake Twilio REST API, webhook receiver and Asterisk manager) and the call records."""
from __future__ import annotations

import asyncio
import base64
import json
import socketserver
import threading
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import numpy as np
import pytest

from server.telephony import audiosocket, codecs, twilio
from server.telephony.handover import AmiUserEvent, Handover, HandoverRequest, TwilioTransfer, Webhook
from server.telephony.line import PlayoutLedger
from server.telephony.records import CallRecorder


# --- G.711 mu-law and the phone band ----------------------------------------------------------------------

# ITU-T G.711 mu-law: code -> linear value (the standard's decoding table, 16-bit scale)
MULAW_TABLE = {0x00: -32124, 0x0F: -16764, 0x10: -15996, 0x70: -120, 0x7E: -8, 0x7F: 0,
               0x80: 32124, 0x8F: 16764, 0xF0: 120, 0xFE: 8, 0xFF: 0}


def test_mulaw_decodes_to_the_standards_values():
    codes = bytes(MULAW_TABLE)
    pcm = np.frombuffer(codecs.mulaw_to_pcm16(codes), "<i2")
    assert pcm.tolist() == list(MULAW_TABLE.values())


def test_mulaw_encodes_to_the_standards_codes():
    linear = np.array([0, 8, -8, 120, -120, 32124, -32124, 32767, -32768], "<i2")
    codes = codecs.pcm16_to_mulaw(linear.tobytes())
    assert list(codes) == [0xFF, 0xFE, 0x7E, 0xF0, 0x70, 0x80, 0x00, 0x80, 0x00]
    # every code decodes and encodes back to itself (0x7F, negative zero, becomes 0xFF)
    every = bytes(range(256))
    back = codecs.pcm16_to_mulaw(codecs.mulaw_to_pcm16(every))
    assert [b for a, b in zip(every, back) if a != b] == [0xFF]


def test_mulaw_round_trip_keeps_speech_level_detail():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(8000) * 3000).clip(-32768, 32767).astype("<i2")
    y = np.frombuffer(codecs.mulaw_to_pcm16(codecs.pcm16_to_mulaw(x.tobytes())), "<i2").astype(float)
    snr = 10 * np.log10(np.sum(x.astype(float) ** 2) / np.sum((x - y) ** 2))
    assert snr > 30  # 8-bit companding keeps ~38 dB on speech-level signals


def _tone(freq: float, rate: int = 16000, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_phone_band_keeps_voice_frequencies_and_drops_those_above_4_khz():
    low, high = _tone(1000), _tone(5000)
    low_back, high_back = codecs.phone_round_trip(low), codecs.phone_round_trip(high)
    assert len(low_back) == len(low)
    core = slice(1000, -1000)
    assert np.corrcoef(low[core], low_back[core])[0, 1] > 0.99
    assert np.sqrt(np.mean(high_back[core] ** 2)) < 0.01 * np.sqrt(np.mean(high[core] ** 2))
    slin = codecs.to_slin(low)
    assert len(slin) == 2 * 8000 and np.corrcoef(codecs.from_slin(slin)[core], low[core])[0, 1] > 0.99


# --- Twilio ---------------------------------------------------------------------------------------------------

def test_twilio_signature_matches_twilios_documented_example():
    params = [("CallSid", "CA1234567890ABCDE"), ("Caller", "+12349013030"), ("Digits", "1234"),
              ("From", "+12349013030"), ("To", "+18005551212")]
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio.signature("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert twilio.signature_valid("12345", ["wss://x/y", url], "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", params)
    assert not twilio.signature_valid("12345", [url], "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", params[:-1])
    assert not twilio.signature_valid("54321", [url], "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", params)
    assert not twilio.signature_valid("12345", [url], "", params)


def test_twiml_connects_the_call_to_the_stream():
    xml = twilio.stream_twiml('wss://line.example.org/telephony/twilio?a=1&b="2"')
    assert "<Response><Connect><Stream url=" in xml and "</Connect></Response>" in xml
    assert "a=1&amp;b=&quot;2&quot;" in xml  # attribute quoted and escaped


# --- AudioSocket framing -------------------------------------------------------------------------------------

def _read_all(data: bytes) -> list:
    async def go():
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        out = []
        while True:
            try:
                msg = await audiosocket.read_message(reader)
            except audiosocket.TruncatedMessage as exc:
                out.append(exc)
                return out
            if msg is None:
                return out
            out.append(msg)

    return asyncio.run(go())


def test_audiosocket_messages_are_type_big_endian_length_payload():
    uid = bytes(range(16))
    assert audiosocket.encode(audiosocket.HANGUP) == b"\x00\x00\x00"
    assert audiosocket.encode(audiosocket.UUID, uid)[:3] == b"\x01\x00\x10"
    assert audiosocket.encode(audiosocket.AUDIO, b"\x00" * 320)[:3] == b"\x10\x01\x40"
    stream = audiosocket.encode(audiosocket.UUID, uid) + audiosocket.encode(audiosocket.AUDIO, b"\x01\x02") + \
        audiosocket.encode(audiosocket.DTMF, b"0") + audiosocket.encode(audiosocket.ERROR, b"\x03") + b"\x00\x00\x00"
    got = _read_all(stream)
    assert [(m.kind, m.payload) for m in got] == [(0x01, uid), (0x10, b"\x01\x02"), (0x03, b"0"), (0xFF, b"\x03"),
                                                  (0x00, b"")]
    with pytest.raises(ValueError):
        audiosocket.encode(audiosocket.AUDIO, b"\x00" * 70000)


def test_audiosocket_truncated_messages_are_reported_not_taken_for_an_end():
    assert isinstance(_read_all(b"\x10\x01")[-1], audiosocket.TruncatedMessage)  # inside the header
    cut = _read_all(audiosocket.encode(audiosocket.AUDIO, b"\x00" * 320)[:103])
    assert isinstance(cut[-1], audiosocket.TruncatedMessage) and "100 of 320" in str(cut[-1])
    assert _read_all(b"") == []  # a clean end between messages


class _EndedCall:
    """What AudioSocketConnection drives, reduced to remembering how the call ended."""

    def __init__(self):
        self.malformed, self.heard, self.reason = 0, 0, None

    async def hear(self, audio):
        self.heard += len(audio)

    async def dtmf(self, digit):
        pass

    async def end(self, *, reason):
        self.reason = reason


def test_audiosocket_call_with_a_silent_peer_ends_instead_of_holding_its_place():
    calls = []

    async def scenario():
        async def open_call(line, info):
            calls.append(_EndedCall())
            return calls[-1]

        async def client(reader, writer):
            await audiosocket.AudioSocketConnection(reader=reader, writer=writer, open_call=open_call,
                                                    idle_s=0.3).run()

        server = await asyncio.start_server(client, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(audiosocket.encode(audiosocket.UUID, bytes(16)) + audiosocket.encode(audiosocket.AUDIO, bytes(320)))
        await writer.drain()
        closed = await asyncio.wait_for(reader.read(), 10)  # then nothing more from "Asterisk"
        writer.close()
        server.close()
        return closed

    asyncio.run(scenario())
    assert calls[0].reason == "line_silent" and calls[0].heard == 320


# --- what the caller heard ------------------------------------------------------------------------------------

def test_playout_ledger_tracks_queued_and_heard_per_item():
    ledger = PlayoutLedger(bytes_per_ms=8)
    assert ledger.queue("a", 800) == 100 and ledger.queue("a", 800) == 200
    assert ledger.busy() == "a"
    ledger.heard("a", 120)
    ledger.heard("a", 80)  # marks never move playback backwards
    assert ledger.played_ms["a"] == 120
    ledger.cleared()  # a barge-in: the rest is dropped, a resumed item continues from what was heard
    assert ledger.queued_ms["a"] == 120 and ledger.busy() is None
    ledger.queue("a", 80)
    assert ledger.busy() == "a" and ledger.queued_ms["a"] == 130
    ledger.heard("a", 999)  # never beyond what was queued
    assert ledger.played_ms["a"] == 130 and ledger.busy() is None


# --- the handover's far ends, run locally ----------------------------------------------------------------------

class _Recorder(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        status = self.server.status
        reply = b'{"sid": "CA1", "status": "in-progress"}' if status == 200 else b'{"message": "Authenticate"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_far_end():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.requests, server.status = [], 200
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def test_twilio_transfer_posts_dial_twiml_to_the_calls_resource(http_far_end):
    base = f"http://127.0.0.1:{http_far_end.server_address[1]}"
    transfer = TwilioTransfer(account_sid="AC123", auth_token="tok", number="+15550100", api_base=base)
    result = asyncio.run(transfer.transfer("CA999"))
    assert result["ok"] and result["status"] == 200 and result["number"] == "+15550100"
    req = http_far_end.requests[0]
    assert req["path"] == "/2010-04-01/Accounts/AC123/Calls/CA999.json"
    assert req["headers"]["Authorization"] == "Basic " + base64.b64encode(b"AC123:tok").decode()
    assert parse_qs(req["body"].decode())["Twiml"] == ["<Response><Dial>+15550100</Dial></Response>"]
    http_far_end.status = 401
    refused = asyncio.run(transfer.transfer("CA999"))
    assert not refused["ok"] and refused["status"] == 401 and "Authenticate" in refused["detail"]


def test_webhook_posts_json_and_a_dead_receiver_is_an_outcome_not_an_exception(http_far_end):
    url = f"http://127.0.0.1:{http_far_end.server_address[1]}/hotline"
    request = HandoverRequest("CA1", "twilio", "screen", category="suicide", level="imminent", reason="said a plan")
    assert asyncio.run(Webhook(url=url).post(request))["ok"]
    sent = json.loads(http_far_end.requests[0]["body"])
    assert sent["event"] == "warmline.handover" and sent["call_id"] == "CA1" and sent["reason"] == "said a plan"
    dead = asyncio.run(Webhook(url="http://127.0.0.1:9/nothing", timeout=2).post(request))
    assert not dead["ok"] and dead["detail"]


class _FakeManager(socketserver.StreamRequestHandler):
    """An Asterisk manager as the AMI docs describe it: a banner, then key: value blocks ended by a blank line."""

    def handle(self):
        self.wfile.write(b"Asterisk Call Manager/9.0.0\r\n")
        block: dict = {}
        for raw in self.rfile:
            line = raw.decode().strip()
            if line:
                key, _, value = line.partition(":")
                block[key.strip()] = value.strip()
                continue
            self.server.actions.append(block)
            ok = block.get("Action") != "Login" or block.get("Secret") == "s3cret"
            self.wfile.write(b"Response: Success\r\n\r\n" if ok else
                             b"Response: Error\r\nMessage: Authentication failed\r\n\r\n")
            if block.get("Action") == "Logoff":
                return
            block = {}


@pytest.fixture
def fake_manager():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _FakeManager)
    server.actions = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def test_ami_user_event_logs_in_and_tells_the_pbx(fake_manager):
    port = fake_manager.server_address[1]
    request = HandoverRequest("uuid-1", "audiosocket", "dtmf", reason="the caller pressed 0")
    ok = asyncio.run(AmiUserEvent(host="127.0.0.1", port=port, username="warmline", secret="s3cret").send(request))
    assert ok["ok"], ok
    assert [a["Action"] for a in fake_manager.actions] == ["Login", "UserEvent", "Logoff"]
    event = fake_manager.actions[1]
    assert event["UserEvent"] == "WarmlineHandover" and event["CallID"] == "uuid-1" and event["Source"] == "dtmf"
    refused = asyncio.run(AmiUserEvent(host="127.0.0.1", port=port, username="warmline", secret="wrong").send(request))
    assert not refused["ok"] and "Authentication failed" in refused["detail"]


def test_handover_transfers_only_where_configured():
    from server.config import Config

    cfg = Config(handover_number="+15550100", twilio_account_sid="AC1", twilio_auth_token="t")
    plan = Handover.from_config(cfg)
    assert plan.can_transfer("twilio") and not plan.can_transfer("audiosocket")
    plan = Handover.from_config(Config(handover_number="+15550100", audiosocket_handover=True))  # no Twilio account
    assert not plan.can_transfer("twilio") and plan.can_transfer("audiosocket")
    assert not Handover.from_config(Config()).can_transfer("twilio")


# --- call records ------------------------------------------------------------------------------------------------

def test_call_record_has_times_escalations_and_no_audio_unless_recording(tmp_path):
    rec = CallRecorder(folder=tmp_path / "plain", call_id="CA/../1", transport="twilio", recording=False)
    rec.caller_audio(b"\x01\x00" * 800)
    rec.escalation(source="screen", category="suicide", level="imminent", reason="said a plan")
    rec.handover({"action": "twilio_transfer", "ok": True})
    rec.close(reason="transferred", malformed=2)
    files = list((tmp_path / "plain").iterdir())
    assert len(files) == 1 and files[0].suffix == ".json" and ".." not in files[0].name
    data = json.loads(files[0].read_text())
    assert data["started_at"] <= data["ended_at"] and data["duration_s"] >= 0
    assert data["escalations"][0]["reason"] == "said a plan" and data["handover"]["ok"]
    assert data["end_reason"] == "transferred" and data["malformed_messages"] == 2 and data["recording"] is None
    assert data["barge_ins"] == 0

    rec = CallRecorder(folder=tmp_path / "rec", call_id="CA2", transport="twilio", recording=True)
    rec.caller_audio(b"\x01\x00" * 800)
    rec.close(reason="caller_hung_up", malformed=0)
    data = json.loads(next((tmp_path / "rec").glob("*.json")).read_text())
    with wave.open(str(tmp_path / "rec" / data["recording"])) as w:
        assert (w.getframerate(), w.getnchannels(), w.getnframes()) == (8000, 1, 800)


def test_serve_has_the_phone_flags():
    from server.cli import build_parser
    from server.config import Config
    from server.telephony import options

    args = build_parser().parse_args(["serve", "--audiosocket-port", "0", "--handover-number", "+15550100",
                                      "--call-records", "/tmp/x", "--audiosocket-handover"])
    cfg = Config()
    options.apply(cfg, args)
    assert (cfg.audiosocket_port, cfg.handover_number, cfg.call_records, cfg.audiosocket_handover) == (
        0, "+15550100", "/tmp/x", True)
    assert cfg.call_recording is False  # off unless asked for
