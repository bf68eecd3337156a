"""Which llama-server slot a request goes to, so that each conversation keeps its own cached prompt.

Left to itself, llama-server sends a request to the idle slot whose cached prompt covers the largest
*fraction* of it. Every Warmline prompt opens with the same long system prompt, so that fraction is high
for any slot, and conversations overwrote each other's history: two conversations on two slots, one
slot used, each later turn re-reading everything after the system prompt (`warmline bench engine`).
Here the choice is made on the conversation: a request goes to the idle slot that already holds the
most of it, provided that this is its own conversation (what the slot holds runs through the prompt's
first message after the system message) or that the slot holds nothing else (all it holds starts the
prompt, e.g. the words of a first turn read while they were spoken), sent with `id_slot`. A conversation no slot holds is left to the
server, which (run with `--slot-prompt-similarity 0`) takes its least recently used slot, saves that
slot's prompt to its RAM cache and restores this one's from there when it has it.
"""
from __future__ import annotations

import threading


class SlotAffinity:
    def __init__(self, slots: int) -> None:
        self._held = [""] * slots  # the text each slot was last given (prompt and what it generated)
        self._busy = [0] * slots  # requests we sent to the slot that have not finished
        self._lock = threading.Lock()

    def choose(self, prompt: str, *, shared: int, identity: int) -> int:
        """The idle slot holding the longest start of `prompt` beyond its first `shared` characters (the
        part every conversation has) that is this conversation's (through `identity`, the end of its first
        message) or nobody else's, reserved until `release`; -1 (the server's choice) if none is."""
        with self._lock:
            best, longest = -1, shared
            for slot, held in enumerate(self._held):
                n = common_prefix(held, prompt)
                if not self._busy[slot] and n > longest and (n >= identity or n == len(held)):
                    best, longest = slot, n
            if best >= 0:
                self._busy[best] += 1
            return best

    def release(self, chosen: int, *, served_by: int | None, text: str) -> None:
        """`served_by`: the slot the server says it used (None if unknown); it now holds `text`."""
        with self._lock:
            if chosen >= 0:
                self._busy[chosen] -= 1
            if served_by is not None and 0 <= served_by < len(self._held):
                self._held[served_by] = text


def common_prefix(a: str, b: str) -> int:
    """Length of the common start of two strings (binary search: the comparisons run in C)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def landmarks(prompt: str, messages: list[dict]) -> tuple[int, int]:
    """(end of the system message, end of the first message after it) in the prompt text: where the part
    every conversation shares ends, and how far a slot must hold the prompt to hold this conversation."""
    shared, rest = 0, messages
    if messages and messages[0].get("role") == "system" and messages[0].get("content"):
        at = prompt.find(messages[0]["content"])
        shared, rest = (at + len(messages[0]["content"]) if at >= 0 else 0), messages[1:]
    first = rest[0].get("content") if rest else None
    at = prompt.find(first, shared) if first else -1
    return shared, (at + len(first) if at >= 0 else len(prompt))
