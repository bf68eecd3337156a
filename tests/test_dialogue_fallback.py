"""The fallback wrapper on its own: which model answers, and what each is asked (the server test in
tests/test_hardening.py runs it with a real dead endpoint and the embedded model)."""
from __future__ import annotations

import pytest

from dialogue.backends.fallback import FallbackChatModel


class Recorded:
    """A chat model that says a fixed reply and records what it was asked; `down` makes it fail like a dead endpoint."""

    def __init__(self, name: str, *, grammar: bool, down: bool = False) -> None:
        self.name, self.supports_grammar, self.down, self.calls = name, grammar, down, []

    def stream(self, messages, **kwargs):
        self.calls.append(kwargs)
        if self.down:
            raise ConnectionRefusedError("connection refused")
        yield from (self.name, " says hi")


def test_a_dead_endpoint_hands_the_turn_to_the_fallback_and_is_left_alone_for_a_while():
    now = [0.0]
    primary, local = Recorded("remote", grammar=False, down=True), Recorded("local", grammar=True)
    model = FallbackChatModel(primary, local, retry_after_s=30, clock=lambda: now[0])
    assert "".join(model.stream([], grammar="root ::= x")) == "local says hi"
    assert "".join(model.stream([])) == "local says hi"
    assert len(primary.calls) == 1  # not tried again within 30 s
    primary.down = False
    now[0] = 31
    assert "".join(model.stream([], grammar="root ::= x")) == "remote says hi"
    assert "grammar" not in primary.calls[-1] and local.calls[0]["grammar"] == "root ::= x"
    assert model.supports_grammar and model.fallbacks == 2


def test_other_failures_are_not_hidden_by_the_fallback():
    class Broken(Recorded):
        def stream(self, messages, **kwargs):
            raise ValueError("a bug, not an outage")
            yield

    model = FallbackChatModel(Broken("remote", grammar=False), Recorded("local", grammar=True))
    with pytest.raises(ValueError):
        list(model.stream([]))
