"""Issue 19: a real server with a key and small limits, attacked and abused over real sockets.

Access (keys, tokens, origins), limits (sessions, idle, audio pace, message size), hostile input while another
session talks, clients that vanish, a model endpoint that hangs or is down, metrics and health, privacy of the log,
and a graceful shutdown. The server runs in its own process, so its memory and its exit are the real ones.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import websockets

from benchmarks.caller import Caller
from benchmarks.server_proc import start_server, stop_server
from benchmarks.soak import scrape_metrics
from server.access import AccessPolicy
from server.audio import float_to_pcm16
from server.limits import AudioPace

pytestmark = pytest.mark.slow

KEY = "test-key-3f9a"
ALLOWED = "https://allowed.example"
BEARER = {"Authorization": f"Bearer {KEY}"}
LIMITS = {"WARMLINE_AUDIO_BURST_S": "3", "WARMLINE_AUDIO_SPEED": "2"}
SECRET_WORD = "Bartholomew"  # said by a caller; must never reach the log


def run(coro):
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def server():
    saved = {k: os.environ.get(k) for k in LIMITS}
    os.environ.update(LIMITS)
    try:
        proc, url, log_path = start_server(["--api-key", KEY, "--max-sessions", "2", "--idle-timeout", "4",
                                            "--allowed-origins", ALLOWED, "--public-page"])
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    try:
        yield proc, url, log_path
    finally:
        stop_server(proc)


def ws(url: str) -> str:
    return url.replace("http://", "ws://") + "/v1/realtime"


def get(url: str, headers: dict | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def metric(url: str, name: str, **labels) -> float:
    """One sample of the server's /metrics (0 when absent), read as the soak suite reads it."""
    want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    return scrape_metrics(url, {}).get("samples", {}).get(want, 0.0)


def rss_mb(proc) -> float:
    with open(f"/proc/{proc.pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


async def refused_status(url: str, **kwargs) -> int | None:
    try:
        async with websockets.connect(url, **kwargs):
            return None
    except websockets.InvalidStatus as exc:
        return exc.response.status_code


async def text_turn(caller: Caller, words: str) -> dict:
    start = len(caller.events)
    await caller.send({"type": "conversation.item.create",
                       "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": words}]}})
    await caller.send({"type": "response.create"})
    return await caller.wait_for_reply(timeout=180, after_index=start)


# --- access -----------------------------------------------------------------------------------------------------

def test_tokens_are_signed_expire_and_die_with_the_key():
    policy = AccessPolicy(api_key="k1", token_seconds=60)
    token = policy.mint(now=1000)["value"]
    assert policy.token_valid(token, now=1059) and not policy.token_valid(token, now=1061)
    assert not AccessPolicy(api_key="k2").token_valid(token, now=1000)
    body, sig = token.rsplit(".", 1)
    forged = body.replace(body.split(".")[1], "9999999999") + "." + sig
    assert not policy.token_valid(forged, now=1000)
    with pytest.raises(ValueError):
        AccessPolicy(api_key=None).mint()


def test_origins_a_browser_may_come_from():
    from websockets.datastructures import Headers

    policy = AccessPolicy(api_key="k", allowed_origins=[ALLOWED])
    assert policy.origin_allowed(Headers())  # not a browser
    assert policy.origin_allowed(Headers([("Origin", ALLOWED)]))
    assert policy.origin_allowed(Headers([("Origin", "http://warm.example:8765"), ("Host", "warm.example:8765")]))
    assert not policy.origin_allowed(Headers([("Origin", "https://evil.example"), ("Host", "warm.example:8765")]))


def test_audio_pace_allows_a_burst_then_holds_back_to_the_allowed_speed():
    now = [0.0]
    pace = AudioPace(speed=2.0, burst_s=3.0, clock=lambda: now[0])
    assert pace.delay(3.0) == 0  # a clip sent whole
    assert pace.delay(2.0) == pytest.approx(1.0)  # 2 s over, at 2x: hold for 1 s
    now[0] += 10.0
    assert pace.delay(1.0) == 0  # time refilled the credit


def test_a_server_on_a_public_interface_will_not_start_without_a_key():
    import subprocess
    import sys

    from benchmarks.server_proc import REPO

    done = subprocess.run([sys.executable, "-m", "server.cli", "serve", "--host", "0.0.0.0", "--port", "0"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "without an API key" in done.stderr


def test_every_way_in_needs_the_key_or_a_token_from_it(server):
    _, url, _ = server

    async def scenario():
        assert await refused_status(ws(url)) == 401
        assert await refused_status(ws(url), additional_headers={"Authorization": "Bearer wrong"}) == 401
        assert await refused_status(ws(url) + f"?token={KEY}") == 401  # the key itself never rides in a URL
        async with Caller(ws(url), headers=BEARER) as caller:
            assert caller.of_type("session.created")
        status, body = get(url + "/v1/realtime/client_secrets", BEARER)
        assert status == 200
        token = json.loads(body)["value"]
        assert get(url + "/v1/realtime/client_secrets")[0] == 401
        async with websockets.connect(ws(url) + f"?token={token}") as conn:
            assert json.loads(await conn.recv())["type"] == "session.created"
        # a browser passes it as a subprotocol beside "realtime", and must get "realtime" back
        async with websockets.connect(ws(url), subprotocols=["realtime", f"openai-insecure-api-key.{token}"],
                                      origin=ALLOWED) as conn:
            assert conn.subprotocol == "realtime"
            assert json.loads(await conn.recv())["type"] == "session.created"
        tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        assert await refused_status(ws(url) + f"?token={tampered}") == 401

    run(scenario())


def test_browsers_only_from_allowed_origins_and_the_page_gets_its_own_token(server):
    _, url, _ = server

    async def scenario():
        assert await refused_status(ws(url), additional_headers=BEARER, origin="https://evil.example") == 403
        status, body = get(url + "/v1/page-token", {"Origin": ALLOWED})
        assert status == 200
        token = json.loads(body)["value"]
        assert get(url + "/v1/page-token", {"Origin": "https://evil.example"})[0] == 403
        async with websockets.connect(ws(url), subprotocols=["realtime", f"openai-insecure-api-key.{token}"],
                                      origin=ALLOWED) as conn:
            assert json.loads(await conn.recv())["type"] == "session.created"

    run(scenario())


# --- limits -------------------------------------------------------------------------------------------------------

def test_a_full_server_says_busy_and_takes_the_next_caller_once_one_leaves(server):
    _, url, _ = server

    async def scenario():
        async with Caller(ws(url), headers=BEARER), Caller(ws(url), headers=BEARER) as second:
            async with websockets.connect(ws(url), additional_headers=BEARER) as third:
                event = json.loads(await third.recv())
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await third.recv()
            assert event["type"] == "error" and event["error"]["code"] == "server_busy", event
            assert closed.value.rcvd.code == 1013
            assert second.of_type("session.created")
        async with Caller(ws(url), headers=BEARER) as again:
            assert again.of_type("session.updated")

    run(scenario())
    assert metric(url, "warmline_connections_refused_total", reason="busy") >= 1


def test_a_connection_opened_and_never_used_is_closed(server):
    _, url, _ = server

    async def scenario():
        async with websockets.connect(ws(url), additional_headers=BEARER) as conn:
            events = []
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    events.append(json.loads(await asyncio.wait_for(conn.recv(), 60)))
            return [e for e in events if e["type"] == "error"]

    errors = run(scenario())
    assert errors and errors[-1]["error"]["code"] == "idle_timeout"


def test_audio_faster_than_real_time_is_held_back_not_buffered(server):
    _, url, _ = server
    before = metric(url, "warmline_audio_throttled_seconds_total")

    async def scenario():
        async with Caller(ws(url), headers=BEARER) as caller:
            chunk = float_to_pcm16(np.zeros(2400, np.float32))  # 100 ms at 24 kHz
            for _ in range(100):  # 10 s of audio, as fast as the socket takes it
                await caller.send_raw(chunk)
            await caller.send({"type": "input_audio_buffer.clear"})
            await caller.wait_for("input_audio_buffer.cleared", timeout=60)

    run(scenario())
    # 3 s of burst, then 2x real time: about 3.5 s of the 10 were held back
    assert metric(url, "warmline_audio_throttled_seconds_total") - before > 1.0


# --- hostile input, while another conversation goes on -------------------------------------------------------------

def test_hostile_input_leaves_the_server_and_other_sessions_unharmed(server):
    proc, url, _ = server

    async def warm():
        async with Caller(ws(url), headers=BEARER) as caller:
            await text_turn(caller, "Hello there.")

    run(warm())
    baseline = rss_mb(proc)

    async def hostile(conn) -> list[dict]:
        attacks = [
            b"\x01\x02\x03",  # PCM16 needs whole samples
            "{not json",
            "[" * 100_000,  # a JSON bomb
            json.dumps({"type": "session.update", "session": {"audio": {"input": {"format": {"type": "audio/pcm",
                                                                                               "rate": 12345}}}}}),
            json.dumps({"type": "input_audio_buffer.append", "audio": "%%% not base64 %%%"}),
            json.dumps({"type": "no.such.event"}),
            json.dumps(["a", "list"]),
            os.urandom(4096),  # binary garbage (even length: decodes as noise)
        ]
        for attack in attacks:
            await conn.send(attack)
        for _ in range(3000):  # thousands of tiny frames
            await conn.send(b"\x00\x00")
        await conn.send("x" * (5 << 20))  # over the 4 MB message limit: this connection ends
        events = []
        try:
            while True:
                events.append(json.loads(await asyncio.wait_for(conn.recv(), 60)))
        except websockets.ConnectionClosed as exc:
            return events, exc.rcvd.code if exc.rcvd else None

    async def scenario():
        async with Caller(ws(url), headers=BEARER) as talker:
            async with websockets.connect(ws(url), additional_headers=BEARER, max_size=None) as attacker:
                reply, (events, code) = await asyncio.gather(
                    text_turn(talker, f"My cat {SECRET_WORD} has been sleeping on my keyboard all week."),
                    hostile(attacker))
            return talker, reply, events, code

    talker, reply, events, code = run(scenario())
    codes = [e["error"]["code"] for e in events if e["type"] == "error"]
    for expected in ("invalid_audio", "invalid_json", "invalid_format", "invalid_event"):
        assert expected in codes, codes
    assert code == 1009  # message too big
    assert reply["response"]["status"] == "completed", talker.story()
    assert talker.reply_audio_seconds(reply["response"]["id"]) > 0.5
    status, body = get(url + "/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    deadline = time.monotonic() + 30
    while metric(url, "warmline_sessions") > 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert metric(url, "warmline_sessions") == 0
    grown = rss_mb(proc) - baseline
    assert grown < 150, f"resident memory grew {grown:.0f} MB over the hostile inputs"


def test_clients_that_vanish_mid_reply_leave_nothing_behind(server):
    proc, url, _ = server
    gone_before = metric(url, "warmline_sessions_closed_total", reason="client_gone")

    async def vanish():
        caller = Caller(ws(url), headers=BEARER)
        await caller.__aenter__()
        await caller.send({"type": "conversation.item.create", "item": {
            "type": "message", "role": "user", "content": [{"type": "input_text", "text": "Tell me about your day."}]}})
        await caller.send({"type": "response.create"})
        await caller.wait_for("response.created", timeout=120)
        caller._ws.transport.abort()  # no close frame: the client just disappears
        caller._reader.cancel()

    baseline = rss_mb(proc)
    for _ in range(4):
        run(vanish())
    deadline = time.monotonic() + 60
    while metric(url, "warmline_sessions") > 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert metric(url, "warmline_sessions") == 0
    assert metric(url, "warmline_sessions_closed_total", reason="client_gone") - gone_before == 4
    assert rss_mb(proc) - baseline < 150

    async def still_talks():
        async with Caller(ws(url), headers=BEARER) as caller:
            return await text_turn(caller, "Are you still there?")

    assert run(still_talks())["response"]["status"] == "completed"


def test_metrics_and_health_for_whoever_runs_it(server):
    _, url, _ = server
    status, body = get(url + "/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    text = get(url + "/metrics")[1].decode()
    for name in ("warmline_sessions", "warmline_turns_total", "warmline_first_audio_seconds_bucket",
                 "warmline_errors_total", "warmline_connections_refused_total", "warmline_process_rss_bytes",
                 "warmline_worker_busy_seconds"):
        assert name in text, name
    assert metric(url, "warmline_turns_total", status="completed") >= 1
    assert metric(url, "warmline_connections_refused_total", reason="unauthorized") >= 1


def test_the_log_names_sessions_but_not_what_callers_said(server):
    _, _, log_path = server
    log = log_path.read_text()
    assert "session sess_" in log  # the log does say what happened
    assert SECRET_WORD not in log and "keyboard" not in log


def test_shutdown_lets_the_reply_in_progress_finish_then_closes_everyone(server):
    """Runs last in this module: it stops the module's server."""
    proc, url, _ = server

    async def scenario():
        async with Caller(ws(url), headers=BEARER) as caller:
            await caller.send({"type": "conversation.item.create", "item": {
                "type": "message", "role": "user", "content": [{"type": "input_text", "text": "What a lovely morning."}]}})
            await caller.send({"type": "response.create"})
            await caller.wait_for("response.output_audio.delta", timeout=180)
            proc.send_signal(signal.SIGTERM)
            done = await caller.wait_for("response.done", timeout=60)
            goodbye = await caller.wait_for("error", timeout=60,
                                            where=lambda e: e["error"]["code"] == "server_shutting_down")
            for _ in range(100):
                if caller._ws.close_code is not None:
                    break
                await asyncio.sleep(0.1)
            return done, goodbye, caller._ws.close_code

    done, goodbye, close_code = run(scenario())
    assert done["response"]["status"] == "completed"
    assert goodbye and close_code == 1001
    assert proc.wait(timeout=60) == 0


# --- a dialogue model that hangs, or an endpoint that is down -------------------------------------------------------

class HangingEndpoint:
    """A TCP server that accepts and reads, and never answers: an LLM endpoint that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def test_a_hung_dialogue_model_gets_an_apology_and_the_conversation_goes_on():
    endpoint = HangingEndpoint()
    proc, url, _ = start_server(["--llm-backend", "openai", "--llm-endpoint", f"http://127.0.0.1:{endpoint.port}/v1",
                                 "--model-timeout", "3", "--no-analyser"])
    try:
        async def scenario():
            async with Caller(ws(url)) as caller:
                first = await text_turn(caller, "I had a long day at work.")
                second = await text_turn(caller, "Are you there?")
                return caller, first, second

        caller, first, second = run(scenario())
        codes = [e["error"]["code"] for e in caller.of_type("error")]
        assert codes.count("model_timeout") + codes.count("model_failed") == 2, codes
        for reply in (first, second):
            spoken = reply["response"]["output"][0]["content"][0]["transcript"]
            assert "say that again" in spoken, reply
            assert caller.reply_audio_seconds(reply["response"]["id"]) > 1.0
        assert metric(url, "warmline_faults_total", kind="model_timeout") + \
            metric(url, "warmline_faults_total", kind="turn_failed") >= 2
    finally:
        stop_server(proc)
        endpoint.close()


def test_an_endpoint_that_is_down_falls_back_to_the_embedded_model():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    proc, url, _ = start_server(["--llm-backend", "openai", "--llm-endpoint", f"http://127.0.0.1:{dead}/v1",
                                 "--llm-fallback", "qwen2.5-0.5b", "--no-analyser"])
    try:
        async def scenario():
            async with Caller(ws(url)) as caller:
                return caller, await text_turn(caller, "I finally finished painting the kitchen today.")

        caller, reply = run(scenario())
        assert reply["response"]["status"] == "completed", caller.story()
        spoken = reply["response"]["output"][0]["content"][0]["transcript"]
        assert len(spoken.split()) >= 3 and "say that again" not in spoken
        assert not caller.of_type("error"), caller.of_type("error")
    finally:
        stop_server(proc)
