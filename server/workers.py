"""Model workers: the event loop never runs inference.

Each model gets one `ModelWorker` (a single thread, shared by every session), so calls to one model
queue up instead of contending for the same cores. Blocking calls go through `run`; generators
(tokens, audio chunks) through `stream`, which yields their items on the loop as they are produced.
Both honour a `threading.Event` that the callee checks once per step.
"""
from __future__ import annotations

import asyncio
import threading
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

    @property
    def idle(self) -> bool:
        """No call running and none waiting: a call submitted now starts at once."""
        return not (self._waiting or self._running)

    def _submit(self, fn: Callable[[], Any]):
        with self._count:
            self._waiting += 1

        def call():
            with self._count:
                self._waiting -= 1
                self._running += 1
            try:
                return fn()
            finally:
                with self._count:
                    self._running -= 1

        return asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._slots.acquire(blocking=False):
            raise WorkerBusy(f"{self.name} worker has too many pending calls")
        try:
            return await self._submit(lambda: fn(*args, **kwargs))
        finally:
            self._slots.release()

    async def run_when_idle(self, fn: Callable[[], Any]) -> bool:
        """Run `fn` only if, when its turn comes, no other call is waiting behind it: for work that
        merely saves time later and must never delay a reply. True if it ran."""
        def maybe() -> bool:
            if self._waiting:
                return False
            fn()
            return True

        return bool(await self.run(maybe))

    async def stream(self, make_iter: Callable[[], Iterator[Any]], *, cancel: threading.Event) -> AsyncIterator[Any]:
        """Run `make_iter()` on the worker thread and yield its items here.

        Leaving the `async for` early (break, exception, task cancellation) sets `cancel`, so the
        producer stops at its next step instead of finishing work nobody will use.
        """
        if not self._slots.acquire(blocking=False):
            raise WorkerBusy(f"{self.name} worker has too many pending calls")
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()

        def produce() -> None:
            try:
                for item in make_iter():
                    loop.call_soon_threadsafe(queue.put_nowait, item)
                    if cancel.is_set():
                        break
                loop.call_soon_threadsafe(queue.put_nowait, _DONE)
            except BaseException as exc:  # handed to the consumer, raised there
                loop.call_soon_threadsafe(queue.put_nowait, _Failure(exc))
            finally:
                self._slots.release()

        future = self._submit(produce)
        exhausted = False
        try:
            while True:
                item = await queue.get()
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


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
