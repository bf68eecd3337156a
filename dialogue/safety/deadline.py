"""A deadline on the crisis scorer, so a call that hangs costs one turn a few seconds, not the whole line.

The scorer runs on a thread of its own. A call that overruns is given up on (`ScorerOverran`, which the screen
treats as a failure: the patterns screen that text alone), and while it is still running, every later call is
given up at once rather than queueing behind it. When it returns, the scorer is used again. One deadline is
shared by every session's screen, as the scorer is: the scorer cannot be stopped mid-call, so this is all there
is to do short of restarting the process (the server counts each one in /metrics).
"""
from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future, TimeoutError as FutureTimeout
from typing import Any, Callable


class ScorerOverran(RuntimeError):
    fault = "safety_scorer_timeout"  # how the screen counts it


class ScorerDeadline:
    def __init__(self, seconds: float) -> None:
        if seconds <= 0:
            raise ValueError("a scorer deadline must be positive")
        self.seconds = seconds
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        # A daemon thread, not an executor's: a call that never returns must not hold the process at exit too.
        threading.Thread(target=self._serve, name="warmline-scorer", daemon=True).start()
        self._lock = threading.Lock()
        self._stuck: Future | None = None  # the call given up on, while it still runs
        self._started = 0.0  # when the latest call was submitted

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            if self._stuck is not None and not self._stuck.done():
                raise ScorerOverran("the crisis scorer is still busy with a call given up on")
            self._stuck = None
            self._started = time.monotonic()
            future: Future = Future()
            self._jobs.put((future, fn, args, kwargs))
        try:
            return future.result(timeout=self.seconds)
        except FutureTimeout:
            with self._lock:
                self._stuck = future
            raise ScorerOverran(f"the crisis scorer gave no answer in {self.seconds:g} s") from None

    def _serve(self) -> None:
        while True:
            future, fn, args, kwargs = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # handed to the caller, raised there
                future.set_exception(exc)

    @property
    def stuck(self) -> bool:
        return self._stuck is not None and not self._stuck.done()

    def stuck_seconds(self) -> float:
        """How long the call given up on has run (0 when none is stuck), as a model worker reports it."""
        return time.monotonic() - self._started if self.stuck else 0.0
