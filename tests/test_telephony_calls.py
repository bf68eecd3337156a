"""Phone calls against a real server on the embedded models, from protocol-faithful simulated callers
(`benchmarks/phone.py`): Twilio Media Streams and Asterisk AudioSocket, real speech at real-time pace, barge-in,
malformed input, escalation and DTMF 0 handovers to local far ends (a fake Twilio REST API, a webhook receiver,
an Asterisk manager), and the call records."""
from __future__ import annotations

import asyncio
import json
import socket
import socketserver
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np
import pytest
import websockets

from benchmarks.caller import load_clip
from benchmarks.phone import AudioSocketCaller, TwilioCaller
from benchmarks.server_proc import start_server, stop_server
from server.audio import resample
from server.telephony.twilio import signature

pytestmark = pytest.mark.slow

ACCOUNT, TOKEN, NUMBER = "AC" + "0" * 32, "test-auth-token", "+15550100"


# --- the far ends, run by the test -------------------------------------------------------------------------

class _Receiver(BaseHTTPRequestHandler):
    """Twilio's REST API (Calls/{sid}.json) and the hotline's webhook, both just recorded."""

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body.decode()})
        failing = "/Calls/CAfail" in self.path  # a call the far end cannot redirect
        reply = b'{"message": "Call is not in-progress"}' if failing else b'{"status": "in-progress"}'
        self.send_response(400 if failing else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


class _Manager(socketserver.StreamRequestHandler):
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
            self.wfile.write(b"Response: Success\r\n\r\n")
            if block.get("Action") == "Logoff":
                return
            block = {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def phone_server(tmp_path_factory):
    far = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    far.requests = []
    manager = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Manager)
    manager.actions = []
    for s in (far, manager):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    records = tmp_path_factory.mktemp("call-records")
    base = f"http://127.0.0.1:{far.server_address[1]}"
    audiosocket_port = _free_port()
    proc, url, log_path = start_server([
        "--audiosocket-port", str(audiosocket_port), "--call-records", str(records),
        "--twilio-account-sid", ACCOUNT, "--twilio-auth-token", TOKEN, "--twilio-api-base", base,
        "--handover-number", NUMBER, "--handover-webhook", base + "/hotline", "--audiosocket-handover",
        "--ami", f"127.0.0.1:{manager.server_address[1]}", "--ami-username", "warmline", "--ami-secret", "s3cret"])
    try:
        yield {"url": url, "ws": url.replace("http://", "ws://"), "audiosocket": ("127.0.0.1", audiosocket_port),
               "far": far, "manager": manager, "records": records, "log": log_path}
    finally:
        stop_server(proc)
        far.shutdown()
        manager.shutdown()


def signed_headers(server: dict, path: str = "/telephony/twilio") -> dict:
    host = server["url"].removeprefix("http://")
    return {"X-Twilio-Signature": signature(TOKEN, f"wss://{host}{path}")}


def twilio_caller(server: dict) -> TwilioCaller:
    return TwilioCaller(server["ws"] + "/telephony/twilio", headers=signed_headers(server))


def record_of(server: dict, call_id: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in Path(server["records"]).glob("*.json"):
            data = json.loads(path.read_text())
            if data["call_id"] == call_id:
                return data
        time.sleep(0.2)
    raise AssertionError(f"no call record for {call_id}")


@pytest.fixture(scope="module")
def speech(librivox):
    return [load_clip(p) for p, _ in librivox]


@pytest.fixture(scope="module")
def recogniser():
    from asr.whisper import WhisperRecognizer
    from server.models import resolve

    return WhisperRecognizer(resolve("whisper-base"))


def words_in(recogniser, audio8k: np.ndarray) -> str:
    return recogniser.transcribe(resample(audio8k, 8000, 16000)).text.strip()


# --- Twilio ------------------------------------------------------------------------------------------------------

async def talk_over_a_reply(caller, *, after: float, words: np.ndarray, audio_kind: str, clear_kind: str | None,
                            attempts: int = 3) -> dict:
    """Talk over the agent 0.2 s into a reply's audio. A reply can be over before the caller's words are heard
    (its opening acknowledgement is short); then the words are a turn of their own and the next reply is tried."""
    for _ in range(attempts):
        started = await caller.wait_for(audio_kind, after=after, timeout=120)
        await asyncio.sleep(0.2)
        onset = time.monotonic()
        finished = await caller.say(words)
        cleared = caller.first(clear_kind, after=onset) if clear_kind else None
        if clear_kind is None or cleared is not None:
            return {"reply": started, "onset": onset, "clear": cleared, "finished": finished}
        after = finished
    raise AssertionError(f"no {clear_kind} in {attempts} tries")


def test_twilio_call_gets_a_spoken_reply_is_interrupted_with_clear_and_ends_with_stop(phone_server, speech, recogniser):
    async def call():
        async with twilio_caller(phone_server) as caller:
            await caller.pause(0.4)
            said = await caller.say(speech[1])
            t = await talk_over_a_reply(caller, after=said, words=speech[4], audio_kind="played", clear_kind="clear")
            t["second"] = await caller.wait_for("media", after=t["finished"], timeout=120)
            await caller.wait_quiet("played", seconds=4.0)
            return caller, t

    caller, t = asyncio.run(call())
    assert t["reply"] < t["onset"] < t["clear"] < t["finished"] < t["second"]
    # a mark follows each chunk (Warmline names them seq:item:position); the caller echoed them as it played
    item_of = {tm: d["name"].split(":")[1] for tm, d in caller.of_kind("mark_sent")}
    cut_item = [item for tm, item in item_of.items() if tm < t["clear"]][-1]
    # after the clear nothing more of the interrupted reply was sent: the rest of it was dropped
    assert all(item != cut_item for tm, item in item_of.items() if tm > t["clear"]), item_of
    heard = words_in(recogniser, caller.heard_audio())
    assert len(heard.split()) >= 2, heard  # the mu-law that came back is speech the recogniser hears
    record = record_of(phone_server, caller.call_sid)
    assert record["transport"] == "twilio" and record["end_reason"] == "stream_stopped"
    assert record["barge_ins"] >= 1 and record["escalations"] == [] and record["recording"] is None
    assert not any(p.suffix == ".wav" for p in Path(phone_server["records"]).iterdir())  # recording is off
    assert set(record) == {"call_id", "transport", "started_at", "ended_at", "duration_s", "end_reason", "escalations",
                           "handover", "barge_ins", "malformed_messages", "recording"}  # no words, no caller number


def test_twilio_routes_want_twilios_signature(phone_server):
    base = phone_server["url"]
    with pytest.raises(urllib.error.HTTPError) as unsigned:
        urllib.request.urlopen(base + "/telephony/twilio/voice?CallSid=CA1", timeout=10)
    assert unsigned.value.code == 403
    host = base.removeprefix("http://")
    path = "/telephony/twilio/voice?CallSid=CA1&From=%2B15551234"
    request = urllib.request.Request(base + path, headers={"X-Twilio-Signature": signature(TOKEN, f"https://{host}{path}")})
    reply = urllib.request.urlopen(request, timeout=10)
    assert reply.headers["Content-Type"] == "text/xml"
    assert f'<Connect><Stream url="wss://{host}/telephony/twilio"/></Connect>' in reply.read().decode()

    async def connect_unsigned():
        async with websockets.connect(phone_server["ws"] + "/telephony/twilio"):
            pass

    with pytest.raises(websockets.InvalidStatus) as refused:
        asyncio.run(connect_unsigned())
    assert refused.value.response.status_code == 403


def test_twilio_malformed_messages_are_logged_and_the_call_goes_on(phone_server, speech):
    async def before_start():
        async with websockets.connect(phone_server["ws"] + "/telephony/twilio", additional_headers=signed_headers(phone_server)) as ws:
            await ws.send(json.dumps({"event": "media", "media": {"payload": "AAAA"}}))  # before 'start'
            await ws.send(json.dumps({"event": "stop"}))
            await ws.wait_closed()

    async def call():
        async with twilio_caller(phone_server) as caller:
            for bad in ("{not json", json.dumps(["a list"]), json.dumps({"event": "nonsense"}),
                        json.dumps({"event": "media", "streamSid": caller.stream_sid, "media": {"payload": "@@@not base64"}}),
                        json.dumps({"event": "media", "streamSid": caller.stream_sid, "media": {}}),
                        json.dumps({"event": "dtmf", "streamSid": caller.stream_sid, "dtmf": {}}),
                        b"\x00\x01binary"):
                await caller.send_raw(bad)
            await caller.pause(0.3)
            said = await caller.say(speech[1])
            await caller.wait_for("media", after=said, timeout=120)
            return caller

    asyncio.run(asyncio.wait_for(before_start(), 30))
    caller = asyncio.run(call())
    record = record_of(phone_server, caller.call_sid)
    assert record["malformed_messages"] == 7, record
    health = json.loads(urllib.request.urlopen(phone_server["url"] + "/healthz", timeout=5).read())
    assert health["status"] == "ok"


def crisis_audio() -> np.ndarray:
    from benchmarks.safety_speech import caller_voice

    return caller_voice("piper")("I want to kill myself tonight.")


def test_a_crisis_on_a_twilio_call_is_handed_over_to_the_hotline_number(phone_server):
    far = phone_server["far"]
    n = len(far.requests)

    async def call():
        async with twilio_caller(phone_server) as caller:
            await caller.pause(0.4)
            await caller.say(crisis_audio())
            deadline = time.monotonic() + 240
            while not any("/Calls/" in r["path"] for r in far.requests[n:]):
                assert time.monotonic() < deadline, "no transfer request reached the Twilio REST API"
                assert not caller.ended, "the stream ended before the transfer"
                await asyncio.sleep(0.2)
            return caller  # leaving the block sends 'stop', as Twilio does once it redirects the call

    caller = asyncio.run(call())
    transfer = next(r for r in far.requests[n:] if "/Calls/" in r["path"])
    assert transfer["path"] == f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{caller.call_sid}.json"
    assert parse_qs(transfer["body"])["Twiml"] == [f"<Response><Dial>{NUMBER}</Dial></Response>"]
    hook = next(json.loads(r["body"]) for r in far.requests[n:] if r["path"] == "/hotline")
    assert hook["call_id"] == caller.call_sid and hook["source"] == "screen" and hook["category"] == "suicide"
    assert hook["level"] in ("elevated", "imminent") and hook["reason"]
    # the crisis reply and the handover line were heard before the transfer
    assert len(caller.played) / 8000 > 3.0
    record = record_of(phone_server, caller.call_sid)
    assert record["escalations"][0]["category"] == "suicide" and record["escalations"][0]["reason"]
    assert record["handover"]["action"] == "twilio_transfer" and record["handover"]["ok"]
    assert record["end_reason"] == "transferred"


def test_dtmf_zero_on_a_twilio_call_asks_for_a_person(phone_server):
    far = phone_server["far"]
    n = len(far.requests)

    async def call():
        async with twilio_caller(phone_server) as caller:
            await caller.pause(0.5)
            pressed = time.monotonic()
            await caller.dtmf("0")
            await caller.wait_for("media", after=pressed, timeout=60)  # the handover line
            deadline = time.monotonic() + 60
            while not any("/Calls/" in r["path"] for r in far.requests[n:]):
                assert time.monotonic() < deadline, "no transfer request"
                await asyncio.sleep(0.2)
            return caller

    caller = asyncio.run(call())
    hook = next(json.loads(r["body"]) for r in far.requests[n:] if r["path"] == "/hotline")
    assert hook["source"] == "dtmf" and hook["call_id"] == caller.call_sid
    record = record_of(phone_server, caller.call_sid)
    assert record["escalations"][0]["source"] == "dtmf" and record["handover"]["ok"]


def test_a_failed_transfer_is_recorded_and_the_agent_stays_on_the_call(phone_server, speech):
    far = phone_server["far"]
    n = len(far.requests)

    async def call():
        caller = twilio_caller(phone_server)
        caller.call_sid = "CAfail" + caller.call_sid[6:]
        async with caller:
            await caller.pause(0.5)
            pressed = time.monotonic()
            await caller.dtmf("0")
            await caller.wait_for("media", after=pressed, timeout=60)
            deadline = time.monotonic() + 60
            while not any("/Calls/" in r["path"] for r in far.requests[n:]):
                assert time.monotonic() < deadline, "no transfer request"
                await asyncio.sleep(0.2)
            refused = time.monotonic()
            sorry = await caller.wait_for("media", after=refused, timeout=60)  # "I can't connect you ..."
            await caller.wait_quiet("played", seconds=1.0)
            said = await caller.say(speech[1])  # and the conversation goes on
            reply = await caller.wait_for("media", after=said, timeout=120)
            return caller, sorry, reply

    caller, sorry, reply = asyncio.run(call())
    assert not caller.of_kind("unexpected")
    record = record_of(phone_server, caller.call_sid)
    assert record["handover"]["action"] == "twilio_transfer" and not record["handover"]["ok"]
    assert record["handover"]["status"] == 400 and record["end_reason"] == "stream_stopped"


# --- AudioSocket ----------------------------------------------------------------------------------------------

def test_audiosocket_call_gets_a_reply_that_stops_when_the_caller_talks_over_it(phone_server, speech, recogniser):
    async def call():
        async with AudioSocketCaller(*phone_server["audiosocket"]) as caller:
            await caller.pause(0.4)
            said = await caller.say(speech[1])
            t = await talk_over_a_reply(caller, after=said, words=speech[4], audio_kind="audio", clear_kind=None)
            await caller.wait_for("audio", after=t["finished"], timeout=120)
            await caller.wait_quiet("audio", seconds=4.0)
            return caller, t

    caller, t = asyncio.run(call())
    times = [tm for tm, _ in caller.of_kind("audio")]
    # the reply stopped while the caller was still talking: a break in the audio starts before their words end
    after = [tm for tm in times if tm >= t["onset"]]
    breaks = [a for a, b in zip(after, after[1:]) if b - a > 0.5]
    assert breaks and breaks[0] < t["finished"], (breaks, t)
    frames = [d["bytes"] for _, d in caller.of_kind("audio")]
    assert all(b % 2 == 0 for b in frames) and max(frames) <= 320  # 20 ms slin frames
    heard = words_in(recogniser, caller.heard_audio())
    assert len(heard.split()) >= 2, heard
    record = record_of(phone_server, str(caller.uuid))
    assert record["transport"] == "audiosocket" and record["end_reason"] == "caller_hung_up"
    assert record["barge_ins"] >= 1  # the paced writer's queue was dropped while the reply was flowing


def test_audiosocket_malformed_input_is_logged_and_the_listener_goes_on(phone_server, speech):
    host, port = phone_server["audiosocket"]

    async def no_uuid_first():
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"\x10\x00\x04\x00\x00\x00\x00")  # audio before the UUID
        await writer.drain()
        reply = await asyncio.wait_for(reader.read(), 20)
        writer.close()
        return reply

    async def truncated():
        async with AudioSocketCaller(host, port) as caller:
            await caller.pause(0.3)
            await caller._stop_sending()
            await caller.send_raw(b"\x10\x01\x40" + b"\x00" * 100)  # says 320 bytes, sends 100, then goes
            caller._writer.close()
            return caller

    async def odd_then_speech():
        async with AudioSocketCaller(host, port) as caller:
            caller.send_message(0x42, b"what is this")  # an unknown type
            caller.send_message(0x10, b"\x00\x01\x02")  # an odd number of bytes of 16-bit audio
            await caller.pause(0.3)
            said = await caller.say(speech[1])
            await caller.wait_for("audio", after=said, timeout=120)
            return caller

    assert asyncio.run(no_uuid_first())[:1] == b"\xff"
    cut = asyncio.run(truncated())
    assert record_of(phone_server, str(cut.uuid))["end_reason"] == "truncated_message"
    caller = asyncio.run(odd_then_speech())
    assert record_of(phone_server, str(caller.uuid))["malformed_messages"] == 2


def test_dtmf_zero_on_audiosocket_speaks_the_handover_line_and_hands_the_call_back_to_the_dialplan(phone_server):
    manager, far = phone_server["manager"], phone_server["far"]
    n_actions, n_requests = len(manager.actions), len(far.requests)

    async def call():
        async with AudioSocketCaller(*phone_server["audiosocket"]) as caller:
            await caller.pause(0.5)
            pressed = time.monotonic()
            await caller.dtmf("0")
            line = await caller.wait_for("audio", after=pressed, timeout=60)
            hangup = await caller.wait_for("hangup", after=line, timeout=60)
            return caller, line, hangup

    caller, line, hangup = asyncio.run(call())
    heard_s = len(caller.received) / 16000
    assert heard_s > 1.5  # the handover line, then the hangup: the dialplan goes on to a person
    user_event = next(a for a in manager.actions[n_actions:] if a.get("Action") == "UserEvent")
    assert user_event["UserEvent"] == "WarmlineHandover" and user_event["CallID"] == str(caller.uuid)
    assert user_event["Source"] == "dtmf"
    hook = next(json.loads(r["body"]) for r in far.requests[n_requests:] if r["path"] == "/hotline")
    assert hook["transport"] == "audiosocket" and hook["source"] == "dtmf"
    record = record_of(phone_server, str(caller.uuid))
    assert record["handover"]["action"] == "dialplan_continues" and record["end_reason"] == "transferred"
