"""Deciding what to say and how: chat-model backends, the dual-thinking engine, crisis safety."""
from __future__ import annotations

import threading
from typing import Iterator, Protocol


class ChatModel(Protocol):
    """A streaming chat model. `messages` are OpenAI-style dicts with role and content."""

    name: str
    supports_grammar: bool  # whether stream() honours `grammar` (GBNF); the engine only sends one if so

    def stream(self, messages: list[dict], *, max_tokens: int = 200, temperature: float = 0.7,
               stop: list[str] | None = None, cancel: threading.Event | None = None,
               grammar: str | None = None) -> Iterator[str]:
        """Yield text pieces as generated; stop within one token once `cancel` is set or the
        iterator is closed."""
        ...

    def warm(self, messages: list[dict]) -> None:
        """Pre-compute whatever can be cached for this prompt prefix (e.g. the system prompt's KV)."""
        ...
