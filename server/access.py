"""Who may open a conversation: an API key, or a short-lived token minted with it; browsers only from allowed origins.

A client proves itself on the WebSocket handshake in any of three places:
- `Authorization: Bearer <key or token>` (server-side clients, the OpenAI SDKs);
- the subprotocol `openai-insecure-api-key.<key or token>` beside `realtime` (browsers cannot set headers; this
  is how OpenAI's browser clients pass an ephemeral key);
- `?token=<token>` in the URL (tokens only, never the key: URLs end up in proxy logs).

Tokens: `POST /v1/realtime/client_secrets` with the key mints one (OpenAI's route, so app backends that mint
ephemeral keys for their pages work unchanged). With `public_page` on, the bundled page mints its own at
`POST /v1/page-token`, from an allowed origin only: that is a public line, anyone who can load the page may call.
A token is `wl1.<expiry>.<nonce>.<signature>`, an HMAC of the first three parts under a key derived from the API
key, so tokens need no server-side state and die with the key.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import time
from urllib.parse import parse_qs, urlsplit

SUBPROTOCOL_PREFIX = "openai-insecure-api-key."
TOKEN_PREFIX = "wl1"
LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class AccessPolicy:
    def __init__(self, *, api_key: str | None, allowed_origins: list[str] | None = None,
                 token_seconds: int = 600, public_page: bool = False) -> None:
        """`allowed_origins`: origins ("https://example.org") a browser may connect from besides the server's own;
        ["*"] allows any. A request without an Origin header is not a browser's and is judged by its key alone."""
        self.api_key = api_key or None
        self.allowed_origins = {o.rstrip("/").lower() for o in (allowed_origins or [])}
        self.token_seconds = token_seconds
        self.public_page = public_page
        self._secret = hashlib.sha256(b"warmline-token\0" + api_key.encode()).digest() if api_key else None

    @property
    def open(self) -> bool:
        return self.api_key is None

    # --- tokens ---------------------------------------------------------------------------------------
    def mint(self, *, now: float | None = None) -> dict:
        if self._secret is None:
            raise ValueError("tokens need an API key (--api-key)")
        expires = int((now if now is not None else time.time()) + self.token_seconds)
        body = f"{TOKEN_PREFIX}.{expires}.{secrets.token_urlsafe(12)}"
        return {"value": f"{body}.{self._sign(body)}", "expires_at": expires}

    def _sign(self, body: str) -> str:
        digest = hmac.new(self._secret, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def token_valid(self, token: str, *, now: float | None = None) -> bool:
        parts = token.split(".")
        if self._secret is None or len(parts) != 4 or parts[0] != TOKEN_PREFIX or not parts[1].isdigit():
            return False
        if not hmac.compare_digest(self._sign(".".join(parts[:3])), parts[3]):
            return False
        return int(parts[1]) > (now if now is not None else time.time())

    def key_valid(self, given: str) -> bool:
        return self.api_key is not None and hmac.compare_digest(given.encode(), self.api_key.encode())

    # --- a request --------------------------------------------------------------------------------------
    def credentials(self, headers, path: str) -> list[tuple[str, str]]:
        """(where, value) pairs the request offers: header and subprotocol may carry key or token, the URL a token."""
        found = []
        auth = headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            found.append(("header", auth.removeprefix("Bearer ").strip()))
        for offer in ",".join(headers.get_all("Sec-WebSocket-Protocol")).split(","):
            if offer.strip().startswith(SUBPROTOCOL_PREFIX):
                found.append(("subprotocol", offer.strip().removeprefix(SUBPROTOCOL_PREFIX)))
        for token in parse_qs(urlsplit(path).query).get("token", []):
            found.append(("url", token))
        return found

    def authorized(self, headers, path: str) -> bool:
        if self.open:
            return True
        for where, value in self.credentials(headers, path):
            if self.token_valid(value) or (where != "url" and self.key_valid(value)):
                return True
        return False

    def origin_allowed(self, headers) -> bool:
        origin = headers.get("Origin")
        if origin is None:  # not a browser
            return True
        origin = origin.rstrip("/").lower()
        if "*" in self.allowed_origins or origin in self.allowed_origins:
            return True
        host = (headers.get("Host") or "").lower()
        return urlsplit(origin).netloc == host and bool(host)  # the page this server served
