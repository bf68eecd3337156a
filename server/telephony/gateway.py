"""What the server needs for phone calls: the Twilio HTTP routes (TwiML and the Media Stream), the AudioSocket
listener, and one `PhoneCall` per call, each counted with the server's other sessions."""
from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus
from urllib.parse import urlsplit

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from server.formats import AudioFormat
from server.telephony import twilio
from server.telephony.audiosocket import ERROR, AudioSocketConnection, AudioSocketLine, encode
from server.telephony.call import PhoneCall
from server.telephony.handover import Handover
from server.telephony.records import CallRecorder

log = logging.getLogger("warmline.telephony")

PREFIX = "/telephony/"
MULAW = AudioFormat("audio/pcmu", 8000)
SLIN_8K = AudioFormat("audio/pcm", 8000)


class TelephonyGateway:
    def __init__(self, *, config, pipeline, sessions: set) -> None:
        self.config, self.pipeline, self.sessions = config, pipeline, sessions
        self.handover = Handover.from_config(config)
        self.calls: set[PhoneCall] = set()

    # --- Twilio over HTTP -------------------------------------------------------------------------------
    def process_request(self, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == twilio.VOICE_PATH:
            if not self._signed(request, ("https",)):
                return _http(HTTPStatus.FORBIDDEN, b"X-Twilio-Signature does not match\n", "text/plain")
            return _http(HTTPStatus.OK, twilio.stream_twiml(self._public_url(request, "wss") + twilio.STREAM_PATH).encode(),
                         "text/xml")
        if path == twilio.STREAM_PATH:
            if request.headers.get("Upgrade", "").lower() != "websocket":
                return _http(HTTPStatus.UPGRADE_REQUIRED, b"Twilio Media Streams connect with a WebSocket\n", "text/plain")
            if not self._signed(request, ("wss", "https")):
                return _http(HTTPStatus.FORBIDDEN, b"X-Twilio-Signature does not match\n", "text/plain")
            if len(self.sessions) >= self.config.max_sessions:
                return _http(HTTPStatus.SERVICE_UNAVAILABLE, b"too many conversations\n", "text/plain")
            return None
        return _http(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")

    def _public_url(self, request: Request, scheme: str) -> str:
        base = self.config.public_url or f"https://{request.headers.get('Host', 'localhost')}"
        parts = urlsplit(base)
        return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}"

    def _signed(self, request: Request, schemes: tuple[str, ...]) -> bool:
        """Twilio signs every request with the account's auth token; checked only when one is configured.
        A GET's parameters are in its URL, which is what is signed."""
        token = self.config.twilio_auth_token
        if not token:
            return True
        urls = [self._public_url(request, s) + request.path for s in schemes]
        ok = twilio.signature_valid(token, urls, request.headers.get("X-Twilio-Signature", ""))
        if not ok:
            log.warning("twilio request to %s refused: bad or missing X-Twilio-Signature", request.path)
        return ok

    async def handle_twilio(self, ws) -> None:
        stream = twilio.TwilioMediaStream(ws=ws, open_call=self._open_twilio)
        try:
            await stream.run()
        finally:
            self._forget(stream.call)

    async def _open_twilio(self, line: twilio.TwilioLine, start: dict) -> PhoneCall:
        return await self._open(line, MULAW)

    # --- AudioSocket over TCP -----------------------------------------------------------------------------
    async def start_audiosocket(self) -> asyncio.Server | None:
        if self.config.audiosocket_port is None:
            return None
        host = self.config.audiosocket_host or self.config.host
        server = await asyncio.start_server(self._audiosocket_client, host, int(self.config.audiosocket_port))
        port = server.sockets[0].getsockname()[1]
        log.info("AudioSocket listening on %s:%d", host, port)
        print(f"AudioSocket listening on {host}:{port}", flush=True)
        return server

    async def _audiosocket_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self.sessions) >= self.config.max_sessions:
            log.warning("audiosocket call refused: %d conversations open", len(self.sessions))
            writer.write(encode(ERROR, b"\x02"))
            writer.close()
            return
        opened: list[PhoneCall] = []

        async def open_call(line: AudioSocketLine, info: dict) -> PhoneCall:
            opened.append(call := await self._open(line, SLIN_8K))
            return call

        connection = AudioSocketConnection(reader=reader, writer=writer, open_call=open_call)
        try:
            await connection.run()
        except Exception:  # this call ends; the listener and the other calls go on
            log.exception("audiosocket connection from %s failed", connection.peer)
        finally:
            for call in opened:
                self._forget(call)

    # --- one call -----------------------------------------------------------------------------------------
    async def _open(self, line, wire_format: AudioFormat) -> PhoneCall:
        recorder = None
        if self.config.call_records:
            recorder = CallRecorder(folder=self.config.call_records, call_id=line.call_id, transport=line.transport,
                                    recording=bool(self.config.call_recording))
        call = PhoneCall(pipeline=self.pipeline, line=line, wire_format=wire_format, handover=self.handover,
                         recorder=recorder)
        self.calls.add(call)
        self.sessions.add(call.session)
        try:
            await call.start()
        except BaseException:
            self._forget(call)
            raise
        return call

    def _forget(self, call: PhoneCall | None) -> None:
        if call is not None:
            self.calls.discard(call)
            self.sessions.discard(call.session)


def _http(status: HTTPStatus, body: bytes, content_type: str) -> Response:
    headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")])
    return Response(status.value, status.phrase, headers, body)

