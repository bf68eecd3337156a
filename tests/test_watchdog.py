"""The stall watch names where the server's time went: a loop held still, a reader stuck in one message."""
from __future__ import annotations

import asyncio
import logging
import time

from server.watchdog import StallWatch, awaiting


def _hold_the_loop(seconds: float) -> None:
    time.sleep(seconds)  # what a long call on the loop, or a worker holding the GIL, looks like from here


def test_a_loop_held_still_is_logged_with_where_it_was(caplog):
    async def main():
        watch = asyncio.create_task(StallWatch(readers=list, after_s=0.3, every_s=0.05).run())
        await asyncio.sleep(0.2)
        _hold_the_loop(1.0)
        await asyncio.sleep(0.3)
        watch.cancel()

    with caplog.at_level(logging.WARNING, logger="warmline.watchdog"):
        asyncio.run(main())
    stalls = [r.getMessage() for r in caplog.records if "has not turned" in r.getMessage()]
    assert len(stalls) == 1 and "_hold_the_loop" in stalls[0], caplog.text
    assert any("turns again" in r.getMessage() for r in caplog.records)


def test_a_quiet_loop_logs_nothing(caplog):
    async def main():
        watch = asyncio.create_task(StallWatch(readers=list, after_s=0.3, every_s=0.05).run())
        await asyncio.sleep(0.8)
        watch.cancel()

    with caplog.at_level(logging.WARNING, logger="warmline.watchdog"):
        asyncio.run(main())
    assert not caplog.records


async def _waits_for_a_worker(done: asyncio.Event) -> None:
    await done.wait()


async def _handles_a_message(done: asyncio.Event) -> None:
    await _waits_for_a_worker(done)


def test_a_reader_stuck_in_one_message_is_logged_once_with_its_await_chain(caplog):
    async def main():
        done = asyncio.Event()
        reader = asyncio.create_task(_handles_a_message(done))
        since = time.monotonic()
        watch = asyncio.create_task(StallWatch(readers=lambda: [("session s1", since, reader)] if not done.is_set()
                                               else [], after_s=0.3, every_s=0.05).run())
        await asyncio.sleep(0.8)
        done.set()
        await reader
        await asyncio.sleep(0.1)
        watch.cancel()

    with caplog.at_level(logging.WARNING, logger="warmline.watchdog"):
        asyncio.run(main())
    stuck = [r.getMessage() for r in caplog.records if "handling one message" in r.getMessage()]
    assert len(stuck) == 1, caplog.text
    assert stuck[0].startswith("session s1") and "_handles_a_message" in stuck[0] and "_waits_for_a_worker" in stuck[0]


def test_the_await_chain_of_a_task_that_is_not_waiting_says_so():
    async def main():
        task = asyncio.create_task(asyncio.sleep(0))
        await task
        return awaiting(task)

    assert "not suspended" in asyncio.run(main())
