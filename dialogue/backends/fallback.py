"""A remote dialogue model with a local one behind it: when the endpoint cannot be reached, the turn is answered by
the fallback (the embedded model), and the endpoint is tried again after a pause rather than on every turn."""
from __future__ import annotations

import logging
import threading
import time
from typing import Iterator

log = logging.getLogger("warmline.dialogue")

# what "the endpoint is down" looks like from the openai client and plain sockets
_DOWN = ("APIConnectionError", "APITimeoutError", "ConnectError", "ConnectTimeout", "ReadTimeout",
         "RemoteProtocolError", "InternalServerError")


def endpoint_down(exc: BaseException) -> bool:
    return isinstance(exc, (ConnectionError, TimeoutError)) or type(exc).__name__ in _DOWN


class FallbackChatModel:
    """Speaks the ChatModel interface. A grammar is offered when the fallback takes one (a small local model needs
    it to keep the reply's format; an endpoint without one simply is not sent it); every other feature only when
    both models have it, so the dialogue engine asks nothing of either that it cannot give."""

    def __init__(self, primary, fallback, *, retry_after_s: float = 30.0, clock=time.monotonic) -> None:
        self.primary, self.fallback = primary, fallback
        self.name = f"{primary.name} (fallback {fallback.name})"
        self.retry_after_s, self._clock = retry_after_s, clock
        self._down_until = 0.0
        self._lock = threading.Lock()
        self.fallbacks = 0  # turns the fallback answered
        self._primary_grammar = bool(getattr(primary, "supports_grammar", False))
        self.supports_grammar = self._primary_grammar or bool(getattr(fallback, "supports_grammar", False))
        self.supports_reply_start = bool(getattr(primary, "supports_reply_start", False)
                                         and getattr(fallback, "supports_reply_start", False))

    @property
    def using_fallback(self) -> bool:
        return self._clock() < self._down_until

    def stream(self, messages: list[dict], **kwargs) -> Iterator[str]:
        if not self.using_fallback:
            own = kwargs if self._primary_grammar else {k: v for k, v in kwargs.items() if k != "grammar"}
            pieces = self.primary.stream(messages, **own)
            try:
                first = next(pieces)  # a dead endpoint fails here, before anything was said
            except StopIteration:
                return
            except Exception as exc:
                if not endpoint_down(exc):
                    raise
                self._mark_down(exc)
            else:
                yield first
                yield from pieces
                return
        self.fallbacks += 1
        yield from self.fallback.stream(messages, **kwargs)

    def _mark_down(self, exc: BaseException) -> None:
        with self._lock:
            self._down_until = self._clock() + self.retry_after_s
        log.error("dialogue endpoint %s is down (%s: %s); the fallback %s answers for %.0f s", self.primary.name,
                  type(exc).__name__, exc, self.fallback.name, self.retry_after_s)

    def warm(self, messages: list[dict]) -> None:
        self.fallback.warm(messages)
        try:
            self.primary.warm(messages)
        except Exception as exc:
            if not endpoint_down(exc):
                raise
            self._mark_down(exc)

    def close(self) -> None:
        for model in (self.primary, self.fallback):
            if close := getattr(model, "close", None):
                close()
