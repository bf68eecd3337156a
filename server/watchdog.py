"""Why the server went quiet. A client's keepalive ping goes unanswered when the event loop stands still (a long
call on it, or a worker thread holding the GIL) or when a connection's reader is stuck in one message (and stops
reading, pongs included). `StallWatch` notices both and logs the stack each was stuck in, so a keepalive timeout
in the field or in CI says where the time went."""
from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback
from typing import Callable, Iterable

log = logging.getLogger("warmline.watchdog")


class StallWatch:
    def __init__(self, *, readers: Callable[[], Iterable[tuple[str, float, asyncio.Task]]], after_s: float = 3.0,
                 every_s: float = 0.5) -> None:
        """`readers()`: (label, monotonic time its current message arrived, its task) for each connection
        reading a message now."""
        self.readers, self.after_s, self.every_s = readers, after_s, every_s
        self._beat = time.monotonic()
        self._loop_thread: int | None = None
        self._stop = threading.Event()
        self._reported: set[tuple[str, float]] = set()

    async def run(self) -> None:
        """Runs on the loop until cancelled: beats for the thread, and looks at the readers."""
        self._loop_thread = threading.get_ident()
        threading.Thread(target=self._watch_loop, name="warmline-stallwatch", daemon=True).start()
        try:
            while True:
                self._beat = time.monotonic()
                self._check_readers(self._beat)
                await asyncio.sleep(self.every_s)
        finally:
            self._stop.set()

    def _check_readers(self, now: float) -> None:
        current = set()
        for label, since, task in self.readers():
            current.add((label, since))
            if now - since >= self.after_s and (label, since) not in self._reported:
                self._reported.add((label, since))
                log.warning("%s has been handling one message for %.1f s (not reading meanwhile); it waits in:\n%s",
                            label, now - since, awaiting(task))
        self._reported &= current

    def _watch_loop(self) -> None:
        stalled = False
        while not self._stop.wait(self.every_s):
            lag = time.monotonic() - self._beat
            if lag >= self.after_s and not stalled:
                stalled = True
                frame = sys._current_frames().get(self._loop_thread)
                where = "".join(traceback.format_stack(frame)[-12:]) if frame else "(no frame)"
                log.warning("the event loop has not turned for %.1f s; it is in:\n%s", lag, where)
            elif lag < self.after_s and stalled:
                stalled = False
                log.warning("the event loop turns again")


def awaiting(task: asyncio.Task) -> str:
    """The chain of coroutines a suspended task waits in, outermost first (Task.get_stack gives only the first)."""
    lines, coro = [], task.get_coro()
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            lines.append(f'  {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}')
        coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None) or getattr(coro, "gi_yieldfrom", None)
    return "\n".join(lines) or "  (not suspended in a coroutine)"
