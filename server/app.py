"""The WebSocket server: the browser client over HTTP, and one `Session` per conversation socket.

Every connection is checked (server/access.py) and held to the limits in `Config` (sessions, message size, audio
pace, idle time, session length, a client that stops reading). One session's failure ends that session only.
On SIGTERM the server stops taking calls, lets the replies in progress finish (`drain_s`), then closes (1001).
"""
from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
import signal
import time
from http import HTTPStatus
from pathlib import Path

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from server.access import AccessPolicy, is_loopback
from server.config import Config
from server.limits import AudioPace
from server.metrics import CONTENT_TYPE_LATEST, ServerMetrics
from server.pipeline import Pipeline
from server.protocol import BETA_NAMES, EventIds, ProtocolError, error_event, parse_client_event
from server.session import Session
from server.telephony.gateway import PREFIX as TELEPHONY_PREFIX, TelephonyGateway
from server.telephony.twilio import STREAM_PATH as TWILIO_STREAM_PATH
from server.watchdog import StallWatch

log = logging.getLogger("warmline.server")

WS_PATHS = ("/v1/realtime", "/realtime", "/ws")
MINT_PATH = "/v1/realtime/client_secrets"  # GET with the API key: a short-lived token (websockets serves GET only)
PAGE_TOKEN_PATH = "/v1/page-token"  # with public_page: a token for the bundled page
BUSY_CLOSE, GOING_AWAY, POLICY_CLOSE = 1013, 1001, 1008


class StartRefused(RuntimeError):
    pass


def client_dir(config: Config) -> Path:
    return Path(config.client_dir) if config.client_dir else Path(__file__).resolve().parent.parent / "client"


class WarmlineServer:
    def __init__(self, config: Config, pipeline: Pipeline) -> None:
        self.config, self.pipeline = config, pipeline
        self.sessions: set[Session] = set()
        self._static = client_dir(config)
        self.telephony = TelephonyGateway(config=config, pipeline=pipeline, sessions=self.sessions)
        origins = [o.strip() for o in (config.allowed_origins or "").split(",") if o.strip()]
        self.access = AccessPolicy(api_key=config.api_key, allowed_origins=origins,
                                   token_seconds=config.token_seconds, public_page=config.public_page)
        self.metrics = ServerMetrics(sessions=self.sessions, workers=pipeline.workers, faults=pipeline.faults)
        self.connections: set[ServerConnection] = set()
        self.draining = False
        self._stop = asyncio.Event()
        self._handling: dict[Session, tuple[float, asyncio.Task]] = {}  # sessions in one message now: since, reader

    @staticmethod
    def check_exposure_of(config: Config) -> None:
        """Open on loopback (with a loud note); anywhere else only with a key."""
        if config.api_key:
            return
        if not is_loopback(config.host):
            raise StartRefused(f"refusing to listen on {config.host} without an API key: anyone who can reach it "
                               "could talk to the models. Set --api-key (or WARMLINE_API_KEY), or listen on 127.0.0.1.")
        log.warning("NO API KEY: anyone on this machine can open conversations on %s. Set --api-key before "
                    "exposing it (README, 'Running it for others').", config.host)

    # --- HTTP ---------------------------------------------------------------------------------------
    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path.startswith(TELEPHONY_PREFIX):
            refused = self.telephony.process_request(request)
            if refused is None and self.draining:
                return _refuse(self, HTTPStatus.SERVICE_UNAVAILABLE, "draining", b"shutting down\n")
            return refused
        if path in WS_PATHS:
            if request.headers.get("Upgrade", "").lower() != "websocket":
                return _http(HTTPStatus.UPGRADE_REQUIRED, b"connect with a WebSocket client\n", "text/plain")
            if not self.access.origin_allowed(request.headers):
                return _refuse(self, HTTPStatus.FORBIDDEN, "origin", b"this origin may not connect (--allowed-origins)\n")
            if not self.access.authorized(request.headers, request.path):
                return _refuse(self, HTTPStatus.UNAUTHORIZED, "unauthorized",
                               b"missing, wrong or expired key or token\n")
            if self.draining:
                return _refuse(self, HTTPStatus.SERVICE_UNAVAILABLE, "draining", b"shutting down\n")
            return None  # a full server still accepts, then says "busy" in the protocol (see handle)
        if path == MINT_PATH:
            given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if self.access.open or not self.access.key_valid(given):
                return _http(HTTPStatus.UNAUTHORIZED if not self.access.open else HTTPStatus.NOT_FOUND,
                             b"needs the server's API key (and a server that has one)\n", "text/plain")
            return _json(HTTPStatus.OK, self.access.mint())
        if path == PAGE_TOKEN_PATH:
            if self.access.open:
                return _json(HTTPStatus.OK, {"value": None, "open": True})
            if not self.access.public_page or not self.access.origin_allowed(request.headers):
                return _http(HTTPStatus.FORBIDDEN, b"this server does not give the page tokens (--public-page)\n",
                             "text/plain")
            return _json(HTTPStatus.OK, self.access.mint())
        if path == "/healthz":
            return self._health()
        if path == "/metrics":
            return _http(HTTPStatus.OK, self.metrics.text(), CONTENT_TYPE_LATEST)
        name = "index.html" if path in ("/", "") else path.lstrip("/")
        file = (self._static / name).resolve()
        if self._static.resolve() not in file.parents or not file.is_file():
            return _http(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")
        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        return _http(HTTPStatus.OK, file.read_bytes(), kind)

    def _health(self) -> Response:
        """503 when shutting down, or when a model call has gone twice its timeout without progress (a hung thread
        that no timeout can stop: restart the process). A hung crisis scorer counts too: meanwhile the patterns
        screen alone."""
        limit = 2 * self.config.model_timeout_s
        calls = {**self.pipeline.workers, **({"safety_scorer": self.pipeline.scorer_deadline}
                                            if self.pipeline.scorer_deadline else {})}
        stuck = {name: round(w.stuck_seconds(), 1) for name, w in calls.items() if limit and w.stuck_seconds() > limit}
        status = "draining" if self.draining else ("stuck" if stuck else "ok")
        body = {"status": status, "sessions": len(self.sessions), "max_sessions": self.config.max_sessions,
                "stuck_workers": stuck, "load_seconds": self.pipeline.load_seconds}
        return _json(HTTPStatus.OK if status == "ok" else HTTPStatus.SERVICE_UNAVAILABLE, body)

    # --- one conversation -----------------------------------------------------------------------------
    async def handle(self, ws: ServerConnection) -> None:
        self.connections.add(ws)
        try:
            if ws.request.path.split("?", 1)[0] == TWILIO_STREAM_PATH:
                self.metrics.opened.labels(transport="twilio").inc()
                return await self.telephony.handle_twilio(ws)
            await self._conversation(ws)
        finally:
            self.connections.discard(ws)

    async def _conversation(self, ws: ServerConnection) -> None:
        cfg = self.config
        ids = EventIds()
        beta = "realtime=v1" in ws.request.headers.get("OpenAI-Beta", "")
        lock = asyncio.Lock()

        async def send(event: dict) -> None:
            self.metrics.observe_event(event)
            if beta:
                event = {**event, "type": BETA_NAMES.get(event["type"], event["type"])}
            event.setdefault("event_id", ids.next())
            text = json.dumps(event)

            async def locked() -> None:
                async with lock:
                    await ws.send(text)

            try:  # a client that reads nothing must not make us hold its audio without bound
                await asyncio.wait_for(locked(), cfg.send_timeout_s or None)
            except asyncio.TimeoutError:
                self.metrics.closed.labels(reason="client_not_reading").inc()
                log.warning("a client read nothing for %.0f s; cutting it off", cfg.send_timeout_s)
                ws.transport.abort()
                raise ConnectionClosed(None, None) from None

        if len(self.sessions) >= cfg.max_sessions:
            self.metrics.refused.labels(reason="busy").inc()
            await send(error_event("server_busy", f"all {cfg.max_sessions} conversations are taken; "
                                   "please try again in a minute"))
            await ws.close(BUSY_CLOSE, "server busy")
            return
        session = Session(self.pipeline, send)
        self.sessions.add(session)
        self.metrics.opened.labels(transport="websocket").inc()
        log.info("session %s opened (%d open)", session.settings.id, len(self.sessions))
        reason = "client_closed"
        try:
            await session.start()
            reason = await self._receive(ws, session, send)
        except ConnectionClosed:
            reason = "client_gone"
        except Exception:  # this session ends; the server and the others go on
            reason = "internal_error"
            log.exception("session %s failed", session.settings.id)
            try:
                await send(error_event("session_failed", "internal error; the conversation ended"))
                await ws.close(1011, "internal error")
            except ConnectionClosed:
                pass
        finally:
            await session.close()
            self.sessions.discard(session)
            self.metrics.closed.labels(reason=reason).inc()
            log.info("session %s closed: %s (%d open)", session.settings.id, reason, len(self.sessions))

    async def _receive(self, ws: ServerConnection, session: Session, send) -> str:
        """Feed the client's messages to the session until it leaves or a limit ends the conversation."""
        cfg = self.config
        pace = AudioPace(speed=cfg.audio_speed, burst_s=cfg.audio_burst_s)
        ends = time.monotonic() + cfg.max_session_s if cfg.max_session_s else None
        while True:
            wait = cfg.idle_timeout_s or None
            if ends is not None:
                wait = min(wait or float("inf"), max(0.0, ends - time.monotonic()))
            session.reading(waiting=True)
            try:
                message = await asyncio.wait_for(ws.recv(), wait)
            except asyncio.TimeoutError:
                expired = ends is not None and time.monotonic() >= ends
                if not expired and session.busy:  # quiet while the agent thinks or talks is not idle
                    continue
                code, text = (("session_expired", f"conversations last at most {cfg.max_session_s / 60:.0f} minutes")
                              if expired else ("idle_timeout", f"nothing received for {cfg.idle_timeout_s:.0f} s"))
                await send(error_event(code, text + "; the conversation ended"))
                await ws.close(1000, code)
                return code
            except ConnectionClosed as exc:
                return "client_closed" if exc.rcvd is not None and exc.rcvd.code in (1000, 1001) else "client_gone"
            finally:
                session.reading(waiting=False)
            if self.draining:
                continue  # replies in progress finish; nothing new starts
            try:  # the stall watch times the handling, not the hold-back (a throttle, on purpose)
                if isinstance(message, bytes):
                    await self._hold_back(pace, session.settings.input_format.seconds(len(message)))
                    self._handling[session] = (time.monotonic(), asyncio.current_task())
                    await session.feed_wire_audio(message)
                else:
                    event = parse_client_event(message)
                    if event["type"] == "input_audio_buffer.append" and isinstance(event.get("audio"), str):
                        await self._hold_back(pace, session.settings.input_format.seconds(len(event["audio"]) * 3 // 4))
                    self._handling[session] = (time.monotonic(), asyncio.current_task())
                    await session.handle(event)
            except ProtocolError as exc:
                await send(error_event(exc.code, exc.message, event_id=exc.event_id))
            finally:
                self._handling.pop(session, None)

    async def _hold_back(self, pace: AudioPace, audio_s: float) -> None:
        delay = pace.delay(audio_s)
        if delay > 0:  # not reading meanwhile: the client's sends back up in TCP, not in our memory
            self.metrics.throttled.inc(delay)
            await asyncio.sleep(delay)

    # --- the process ---------------------------------------------------------------------------------------
    async def serve_forever(self, ready: asyncio.Event | None = None) -> None:
        self.check_exposure_of(self.config)
        async with serve(self.handle, self.config.host, self.config.port, process_request=self.process_request,
                         max_size=self.config.max_message_bytes, ping_interval=20, ping_timeout=20,
                         subprotocols=["realtime"], select_subprotocol=_select_subprotocol) as server:
            port = server.sockets[0].getsockname()[1] if server.sockets else self.config.port
            audiosocket = await self.telephony.start_audiosocket()
            watch = asyncio.create_task(StallWatch(readers=self._readers).run())
            log.info("Warmline listening on http://%s:%d/ (WebSocket %s)", self.config.host, port, WS_PATHS[0])
            print(f"Warmline is ready: open http://{self.config.host}:{port}/ in a browser", flush=True)
            self._on_signals()
            if ready:
                ready.set()
            await self._stop.wait()
            watch.cancel()
            if audiosocket is not None:
                audiosocket.close()
            await self.drain()

    def stop(self) -> None:
        self._stop.set()

    def _readers(self) -> list[tuple[str, float, asyncio.Task]]:
        return [(f"session {s.settings.id}", since, task) for s, (since, task) in list(self._handling.items())]

    def _on_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self.stop)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread (tests), or no signals
                pass

    async def drain(self) -> None:
        """Take no new calls; let replies in progress finish (up to `drain_s`); then say goodbye and close."""
        self.draining = True
        log.info("shutting down: %d conversations open; draining for up to %.0f s", len(self.sessions),
                 self.config.drain_s)
        deadline = time.monotonic() + self.config.drain_s
        while time.monotonic() < deadline and any(s.response is not None and not s.response.finished
                                                  for s in self.sessions):
            await asyncio.sleep(0.1)
        for session in list(self.sessions):
            await session.send(error_event("server_shutting_down", "the server is restarting; please call again"))
        await asyncio.gather(*(ws.close(GOING_AWAY, "server shutting down") for ws in list(self.connections)),
                             return_exceptions=True)
        deadline = time.monotonic() + 5
        while self.sessions and time.monotonic() < deadline:
            await asyncio.sleep(0.05)


def _select_subprotocol(connection: ServerConnection, offered) -> str | None:
    """Browsers that pass a key as a subprotocol also offer `realtime`, and fail unless one is chosen."""
    return "realtime" if "realtime" in offered else None


def _refuse(server: WarmlineServer, status: HTTPStatus, reason: str, body: bytes) -> Response:
    server.metrics.refused.labels(reason=reason).inc()
    return _http(status, body, "text/plain")


def _json(status: HTTPStatus, body: dict) -> Response:
    return _http(status, json.dumps(body).encode(), "application/json")


def _http(status: HTTPStatus, body: bytes, content_type: str) -> Response:
    headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body))),
                       ("Cache-Control", "no-store")])
    return Response(status.value, status.phrase, headers, body)
