"""What a call needs from a phone transport, and the ledger of what the caller has heard."""
from __future__ import annotations

from typing import Protocol


class PhoneLine(Protocol):
    transport: str  # "twilio" | "audiosocket"
    call_id: str  # Twilio's CallSid or AudioSocket's UUID
    ledger: "PlayoutLedger"

    async def play(self, audio: bytes, *, item_id: str) -> None:
        """Queue audio (in the line's wire format) for the caller."""

    async def clear(self) -> None:
        """Drop everything queued and not yet played (a barge-in)."""

    async def wait_played(self, item_id: str, *, timeout: float) -> bool:
        """Until everything queued of `item_id` was played; False on timeout."""

    async def hang_up(self) -> None:
        """End the call from our side."""


class PlayoutLedger:
    """Per assistant item: how much audio was queued on the line and how much the caller has heard (ms)."""

    def __init__(self, *, bytes_per_ms: float) -> None:
        self.bytes_per_ms = bytes_per_ms
        self.queued_ms: dict[str, float] = {}
        self.played_ms: dict[str, float] = {}
        self.current: str | None = None  # the item most recently queued

    def queue(self, item_id: str, n_bytes: int) -> float:
        """Returns the item's queued position after this audio."""
        self.current = item_id
        self.queued_ms[item_id] = self.queued_ms.get(item_id, 0.0) + n_bytes / self.bytes_per_ms
        self.played_ms.setdefault(item_id, 0.0)
        return self.queued_ms[item_id]

    def heard(self, item_id: str, position_ms: float) -> None:
        if item_id in self.played_ms:
            self.played_ms[item_id] = max(self.played_ms[item_id], min(position_ms, self.queued_ms[item_id]))

    def busy(self) -> str | None:
        """The item still playing (queued beyond what was heard), if any."""
        item = self.current
        if item is not None and self.queued_ms[item] - self.played_ms[item] > 1.0:
            return item
        return None

    def cleared(self) -> None:
        """The queue was dropped: what was queued is now what was heard, so a resumed item continues from there."""
        for item, played in self.played_ms.items():
            self.queued_ms[item] = played
