"""The WebSocket server: the browser client over HTTP, and one `Session` per conversation socket."""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import mimetypes
from http import HTTPStatus
from pathlib import Path

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from server.config import Config
from server.pipeline import Pipeline
from server.protocol import BETA_NAMES, EventIds, ProtocolError, error_event, parse_client_event
from server.session import Session
from server.telephony.gateway import PREFIX as TELEPHONY_PREFIX, TelephonyGateway
from server.telephony.twilio import STREAM_PATH as TWILIO_STREAM_PATH

log = logging.getLogger("warmline.server")

WS_PATHS = ("/v1/realtime", "/realtime", "/ws")


def client_dir(config: Config) -> Path:
    return Path(config.client_dir) if config.client_dir else Path(__file__).resolve().parent.parent / "client"


class WarmlineServer:
    def __init__(self, config: Config, pipeline: Pipeline) -> None:
        self.config, self.pipeline = config, pipeline
        self.sessions: set[Session] = set()
        self._static = client_dir(config)
        self.telephony = TelephonyGateway(config=config, pipeline=pipeline, sessions=self.sessions)

    # --- HTTP ---------------------------------------------------------------------------------------
    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path.startswith(TELEPHONY_PREFIX):
            return self.telephony.process_request(request)
        if path in WS_PATHS:
            if request.headers.get("Upgrade", "").lower() != "websocket":
                return _http(HTTPStatus.UPGRADE_REQUIRED, b"connect with a WebSocket client\n", "text/plain")
            if not self._authorized(request):
                return _http(HTTPStatus.UNAUTHORIZED, b"missing or wrong bearer token\n", "text/plain")
            if len(self.sessions) >= self.config.max_sessions:
                return _http(HTTPStatus.SERVICE_UNAVAILABLE, b"too many conversations; try again later\n", "text/plain")
            return None
        if path == "/healthz":
            body = json.dumps({"status": "ok", "sessions": len(self.sessions),
                               "load_seconds": self.pipeline.load_seconds}).encode()
            return _http(HTTPStatus.OK, body, "application/json")
        name = "index.html" if path in ("/", "") else path.lstrip("/")
        file = (self._static / name).resolve()
        if self._static.resolve() not in file.parents or not file.is_file():
            return _http(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")
        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        return _http(HTTPStatus.OK, file.read_bytes(), kind)

    def _authorized(self, request: Request) -> bool:
        if not self.config.api_key:
            return True
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), self.config.api_key.encode())

    # --- one conversation -----------------------------------------------------------------------------
    async def handle(self, ws: ServerConnection) -> None:
        if ws.request.path.split("?", 1)[0] == TWILIO_STREAM_PATH:
            return await self.telephony.handle_twilio(ws)
        ids = EventIds()
        beta = "realtime=v1" in ws.request.headers.get("OpenAI-Beta", "")
        lock = asyncio.Lock()

        async def send(event: dict) -> None:
            if beta:
                event = {**event, "type": BETA_NAMES.get(event["type"], event["type"])}
            event.setdefault("event_id", ids.next())
            async with lock:
                await ws.send(json.dumps(event))

        session = Session(self.pipeline, send)
        self.sessions.add(session)
        log.info("session %s opened (%d open)", session.settings.id, len(self.sessions))
        try:
            await session.start()
            async for message in ws:
                try:
                    if isinstance(message, bytes):
                        await session.feed_wire_audio(message)
                    else:
                        await session.handle(parse_client_event(message))
                except ProtocolError as exc:
                    await send(error_event(exc.code, exc.message, event_id=exc.event_id))
        except ConnectionClosed:
            pass
        except Exception:  # this session ends; the server and the others go on
            log.exception("session %s failed", session.settings.id)
            try:
                await send(error_event("session_failed", "internal error; the conversation ended"))
                await ws.close(1011, "internal error")
            except ConnectionClosed:
                pass
        finally:
            await session.close()
            self.sessions.discard(session)
            log.info("session %s closed (%d open)", session.settings.id, len(self.sessions))

    async def serve_forever(self, ready: asyncio.Event | None = None) -> None:
        async with serve(self.handle, self.config.host, self.config.port, process_request=self.process_request,
                         max_size=self.config.max_message_bytes, ping_interval=20, ping_timeout=20) as server:
            port = server.sockets[0].getsockname()[1] if server.sockets else self.config.port
            await self.telephony.start_audiosocket()
            log.info("Warmline listening on http://%s:%d/ (WebSocket %s)", self.config.host, port, WS_PATHS[0])
            print(f"Warmline is ready: open http://{self.config.host}:{port}/ in a browser", flush=True)
            if ready:
                ready.set()
            await asyncio.Future()


def _http(status: HTTPStatus, body: bytes, content_type: str) -> Response:
    headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body))),
                       ("Cache-Control", "no-store")])
    return Response(status.value, status.phrase, headers, body)
