"""Model workers: the event loop never runs inference.

Each model gets one `ModelWorker` (a single thread, shared by every session), so calls to one model
queue up instead of contending for the same cores. Blocking calls go through `run`; generators
(tokens, audio chunks) through `stream`, which yields their items on the loop as they are produced.
Both honour a `threading.Event` that the callee checks once per step.

Timeouts count from the moment a call starts running, never from when it queued behind other sessions' calls:
`run(..., timeout=)` bounds the whole call, `stream(..., stall_timeout=)` the wait for each next item. On a timeout
the call's cancel event is set and `ModelTimeout` is raised; a call that ignores its cancel event and never returns
leaves the worker `stuck` (reported by /healthz, so a supervisor can restart the process).
"""
from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, AsyncIterator, Callable, Iterator

_DONE = object()


class ModelWorker:
    def __init__(self, name: str, *, max_pending: int = 64, threads: int = 1) -> None:
        """`threads` > 1 only for a model that serves several calls at once (a batching engine)."""
        self.name = name
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"warmline-{name}")
        self._slots = threading.BoundedSemaphore(max_pending)
        self._waiting = 0  # calls submitted and not yet started
        self._running = 0
        self._count = threading.Lock()
        self._active_since: dict[int, float] = {}  # worker thread -> when its call started or last gave an item
        self.timeouts = 0  # calls that overran their timeout

    @property
    def idle(self) -> bool:
        """No call running and none waiting: a call submitted now starts at once."""
        return not (self._waiting or self._running)

    def stuck_seconds(self) -> float:
        """How long a running call has gone without finishing or, for a stream, without giving an item (0 when
        none runs): a long reply that keeps streaming is not stuck."""
        with self._count:
            since = list(self._active_since.values())
        return time.monotonic() - min(since) if since else 0.0

    def _beat(self) -> None:
        with self._count:
            me = threading.get_ident()
            if me in self._active_since:
                self._active_since[me] = time.monotonic()

    def _submit(self, fn: Callable[[], Any], started: asyncio.Event | None = None,
                if_skipped: Callable[[], None] | None = None):
        """`if_skipped`: called if the call is cancelled before it starts (then it never runs)."""
        loop = asyncio.get_running_loop()
        with self._count:
            self._waiting += 1
        claimed = [False]  # the call left the queue: it started, or was cancelled before it could

        def leave_queue() -> bool:
            with self._count:
                if claimed[0]:
                    return False
                claimed[0] = True
                self._waiting -= 1
                return True

        def call():
            leave_queue()
            with self._count:
                self._running += 1
                self._active_since[threading.get_ident()] = time.monotonic()
            if started is not None:
                loop.call_soon_threadsafe(started.set)
            try:
                return fn()
            finally:
                with self._count:
                    self._running -= 1
                    self._active_since.pop(threading.get_ident(), None)

        def skipped(future) -> None:
            # A caller cancelled while its call still queued: the executor drops the call, so count it out here,
            # or the worker would look busy for ever (and read-ahead, which runs only on idle workers, would stop).
            if future.cancelled() and leave_queue() and if_skipped is not None:
                if_skipped()

        future = loop.run_in_executor(self._executor, call)
        future.add_done_callback(skipped)
        return future

    async def run(self, fn: Callable[..., Any], *args: Any, timeout: float | None = None,
                  cancel: threading.Event | None = None, **kwargs: Any) -> Any:
        """`cancel` is passed on to `fn` (as `cancel=`) and set on a timeout."""
        if not self._slots.acquire(blocking=False):
            raise WorkerBusy(f"{self.name} worker has too many pending calls")
        if cancel is not None:
            kwargs["cancel"] = cancel
        started = asyncio.Event() if timeout else None
        try:
            future = self._submit(lambda: fn(*args, **kwargs), started)
            if not timeout:
                return await future
            waiting = asyncio.ensure_future(started.wait())
            await asyncio.wait({waiting, future}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            try:
                return await asyncio.wait_for(asyncio.shield(future), timeout)
            except asyncio.TimeoutError:
                self._overran(cancel)
                future.add_done_callback(lambda f: f.cancelled() or f.exception())
                raise ModelTimeout(self.name, timeout) from None
        finally:
            self._slots.release()

    def _overran(self, cancel: threading.Event | None) -> None:
        self.timeouts += 1
        if cancel is not None:
            cancel.set()

    async def run_when_idle(self, fn: Callable[[], Any]) -> bool:
        """Run `fn` only if, when its turn comes, no other call is waiting behind it: for work that
        merely saves time later and must never delay a reply. True if it ran."""
        def maybe() -> bool:
            if self._waiting:
                return False
            fn()
            return True

        return bool(await self.run(maybe))

    async def stream(self, make_iter: Callable[[], Iterator[Any]], *, cancel: threading.Event,
                     stall_timeout: float | None = None) -> AsyncIterator[Any]:
        """Run `make_iter()` on the worker thread and yield its items here.

        Leaving the `async for` early (break, exception, task cancellation) sets `cancel`, so the
        producer stops at its next step instead of finishing work nobody will use.
        """
        if not self._slots.acquire(blocking=False):
            raise WorkerBusy(f"{self.name} worker has too many pending calls")
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()

        def produce() -> None:
            loop.call_soon_threadsafe(queue.put_nowait, _STARTED)
            try:
                for item in make_iter():
                    self._beat()
                    loop.call_soon_threadsafe(queue.put_nowait, item)
                    if cancel.is_set():
                        break
                loop.call_soon_threadsafe(queue.put_nowait, _DONE)
            except BaseException as exc:  # handed to the consumer, raised there
                loop.call_soon_threadsafe(queue.put_nowait, _Failure(exc))
            finally:
                self._slots.release()

        future = self._submit(produce, if_skipped=self._slots.release)
        exhausted = running = False
        try:
            while True:
                if stall_timeout and running:
                    try:
                        item = await asyncio.wait_for(queue.get(), stall_timeout)
                    except asyncio.TimeoutError:
                        self._overran(cancel)
                        raise ModelTimeout(self.name, stall_timeout) from None
                else:
                    item = await queue.get()
                if item is _STARTED:
                    running = True
                    continue
                if item is _DONE:
                    exhausted = True
                    break
                if isinstance(item, _Failure):
                    exhausted = True
                    raise item.exc
                yield item
        finally:
            if not exhausted:  # the consumer left early: stop the producer at its next step
                cancel.set()
            # Do not leave the producer's exception unobserved; do not wait for it either.
            future.add_done_callback(lambda f: f.exception())

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class WorkerBusy(RuntimeError):
    pass


class ModelTimeout(RuntimeError):
    def __init__(self, worker: str, seconds: float) -> None:
        super().__init__(f"the {worker} model gave nothing for {seconds:.0f} s")
        self.worker, self.seconds = worker, seconds


_STARTED = object()  # the producer began: a stream's stall timeout counts from here



class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
