"""Bringing a human into a call: what a deployment does when the crisis screen escalates or the caller
presses 0. Each far end is one small class; `Handover` picks them from the configuration.

- Twilio: a REST request redirects the live call to new TwiML that dials the hotline's number;
- Asterisk: the AudioSocket connection ends after the handover line, so the dialplan goes on to its next
  step (a queue of people); optionally an AMI `UserEvent` tells the PBX's own tools first;
- a webhook: a JSON POST to the hotline's own system, on every escalation and request for a human."""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from xml.sax.saxutils import escape

log = logging.getLogger("warmline.telephony.handover")

HANDOVER_LINE = "I'm going to connect you with a person from our team now. Please stay on the line."
NO_HUMAN_LINE = "I can't connect you to a person on this line, but I'm here with you, and I'm listening."


@dataclass(frozen=True)
class HandoverRequest:
    call_id: str
    transport: str
    source: str  # "screen" (a warmline.escalation) or "dtmf" (the caller pressed 0)
    category: str | None = None
    level: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict:
        return {"event": "warmline.handover", "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **asdict(self)}


def _post(url: str, body: bytes, headers: dict, timeout: float) -> dict:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return {"ok": 200 <= reply.status < 300, "status": reply.status}
    except urllib.error.HTTPError as exc:
        return {"ok": False, "status": exc.code, "detail": exc.read(300).decode("utf-8", "replace")}
    except (urllib.error.URLError, OSError) as exc:
        return {"ok": False, "status": None, "detail": str(getattr(exc, "reason", exc))}


class Webhook:
    """POSTs a handover request as JSON to the hotline's own system."""

    def __init__(self, *, url: str, timeout: float = 5.0) -> None:
        self.url, self.timeout = url, timeout

    async def post(self, request: HandoverRequest) -> dict:
        body = json.dumps(request.to_dict()).encode()
        result = await asyncio.to_thread(_post, self.url, body, {"Content-Type": "application/json"}, self.timeout)
        return {"action": "webhook", **result}


class TwilioTransfer:
    """Redirects a live Twilio call to `<Dial>number</Dial>` through the REST API (the Media Stream then stops)."""

    def __init__(self, *, account_sid: str, auth_token: str, number: str, api_base: str = "https://api.twilio.com",
                 timeout: float = 10.0) -> None:
        self.account_sid, self.auth_token, self.number = account_sid, auth_token, number
        self.api_base, self.timeout = api_base.rstrip("/"), timeout

    def twiml(self) -> str:
        return f"<Response><Dial>{escape(self.number)}</Dial></Response>"

    async def transfer(self, call_sid: str) -> dict:
        url = (f"{self.api_base}/2010-04-01/Accounts/{urllib.parse.quote(self.account_sid)}"
               f"/Calls/{urllib.parse.quote(call_sid)}.json")
        auth = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        body = urllib.parse.urlencode({"Twiml": self.twiml()}).encode()
        result = await asyncio.to_thread(_post, url, body, {"Authorization": f"Basic {auth}",
                                                            "Content-Type": "application/x-www-form-urlencoded"},
                                         self.timeout)
        return {"action": "twilio_transfer", "number": self.number, **result}


class AmiUserEvent:
    """Sends an Asterisk Manager Interface `UserEvent` (after `Login`), which every AMI client of the PBX sees."""

    def __init__(self, *, host: str, port: int, username: str, secret: str, timeout: float = 5.0) -> None:
        self.host, self.port, self.username, self.secret, self.timeout = host, port, username, secret, timeout

    async def send(self, request: HandoverRequest) -> dict:
        try:
            return await asyncio.wait_for(self._send(request), self.timeout)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
            return {"action": "ami_user_event", "ok": False, "detail": f"{type(exc).__name__}: {exc}"}

    async def _send(self, request: HandoverRequest) -> dict:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            await reader.readline()  # "Asterisk Call Manager/x.y.z"
            login = await self._action(reader, writer, {"Action": "Login", "Username": self.username,
                                                        "Secret": self.secret})
            if login.get("Response") != "Success":
                return {"action": "ami_user_event", "ok": False, "detail": login.get("Message", "login refused")}
            fields = {"Action": "UserEvent", "UserEvent": "WarmlineHandover", "CallID": request.call_id,
                      "Source": request.source, "Category": request.category or "", "Level": request.level or "",
                      "Reason": (request.reason or "").replace("\r", " ").replace("\n", " ")}
            reply = await self._action(reader, writer, fields)
            await self._action(reader, writer, {"Action": "Logoff"})
            return {"action": "ami_user_event", "ok": reply.get("Response") == "Success"}
        finally:
            writer.close()

    @staticmethod
    async def _action(reader, writer, fields: dict) -> dict:
        writer.write("".join(f"{k}: {v}\r\n" for k, v in fields.items()).encode() + b"\r\n")
        await writer.drain()
        reply: dict = {}
        while (line := (await reader.readline()).decode("utf-8", "replace").strip()):
            key, _, value = line.partition(":")
            reply[key.strip()] = value.strip()
        return reply


class Handover:
    """A deployment's handover configuration: who is told, and how a call reaches a person."""

    def __init__(self, *, line: str = HANDOVER_LINE, no_human_line: str = NO_HUMAN_LINE,
                 twilio: TwilioTransfer | None = None, audiosocket_continue: bool = False,
                 webhook: Webhook | None = None, ami: AmiUserEvent | None = None) -> None:
        self.line, self.no_human_line = line, no_human_line
        self.twilio, self.audiosocket_continue, self.webhook, self.ami = twilio, audiosocket_continue, webhook, ami

    @classmethod
    def from_config(cls, config) -> "Handover":
        twilio = None
        if config.handover_number and config.twilio_account_sid and config.twilio_auth_token:
            twilio = TwilioTransfer(account_sid=config.twilio_account_sid, auth_token=config.twilio_auth_token,
                                    number=config.handover_number, api_base=config.twilio_api_base)
        elif config.handover_number:
            log.warning("--handover-number needs --twilio-account-sid and --twilio-auth-token; Twilio calls will not "
                        "be transferred")
        ami = None
        if config.ami:
            host, _, port = config.ami.rpartition(":")
            ami = AmiUserEvent(host=host or "127.0.0.1", port=int(port), username=config.ami_username or "",
                               secret=config.ami_secret or "")
        return cls(line=config.handover_line or HANDOVER_LINE, twilio=twilio,
                   audiosocket_continue=config.audiosocket_handover,
                   webhook=Webhook(url=config.handover_webhook) if config.handover_webhook else None, ami=ami)

    def can_transfer(self, transport: str) -> bool:
        return self.twilio is not None if transport == "twilio" else self.audiosocket_continue

    async def notify(self, request: HandoverRequest) -> list[dict]:
        """Tell the hotline's systems (webhook; AMI for Asterisk calls). Never raises."""
        senders = [self.webhook.post(request)] if self.webhook else []
        if self.ami is not None and request.transport == "audiosocket":
            senders.append(self.ami.send(request))
        results = await asyncio.gather(*senders, return_exceptions=True)
        out = [r if isinstance(r, dict) else {"ok": False, "detail": repr(r)} for r in results]
        for r in out:
            (log.info if r.get("ok") else log.warning)("call %s: handover notice %s", request.call_id, r)
        return out

    async def transfer(self, line) -> dict:
        """Move the call to a person. Twilio: the REST redirect; Asterisk: end the socket, the dialplan goes on."""
        if line.transport == "twilio" and self.twilio is not None:
            result = await self.twilio.transfer(line.call_id)
        elif line.transport == "audiosocket" and self.audiosocket_continue:
            await line.hang_up()
            result = {"action": "dialplan_continues", "ok": True}
        else:
            result = {"action": "none", "ok": False, "detail": "no transfer configured for this transport"}
        (log.info if result.get("ok") else log.error)("call %s: transfer %s", line.call_id, result)
        return result
