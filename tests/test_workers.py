import asyncio
import subprocess
import sys
import threading
import time

import pytest

from server.workers import ModelTimeout, ModelWorker, WorkerBusy


def test_stream_yields_items_and_stops_the_producer_when_the_consumer_leaves():
    produced = []

    def producer(cancel):
        for i in range(1000):
            if cancel.is_set():
                return
            produced.append(i)
            time.sleep(0.002)
            yield i

    async def main():
        worker = ModelWorker("t")
        cancel = threading.Event()
        got = []
        async for item in worker.stream(lambda: producer(cancel), cancel=cancel):
            got.append(item)
            if len(got) == 5:
                break
        await asyncio.sleep(0.1)
        return got, len(produced)

    got, n_after = asyncio.run(main())
    assert got == [0, 1, 2, 3, 4]
    assert n_after < 50  # the producer stopped soon after, instead of running to 1000


def test_stream_raises_the_producers_error_on_the_loop():
    def broken():
        yield 1
        raise ValueError("model exploded")

    async def main():
        worker = ModelWorker("t")
        async for _ in worker.stream(broken, cancel=threading.Event()):
            pass

    with pytest.raises(ValueError, match="model exploded"):
        asyncio.run(main())


def test_run_is_off_the_event_loop_and_bounded():
    async def main():
        worker = ModelWorker("t", max_pending=1)
        loop_thread = threading.get_ident()
        ran_on = await worker.run(threading.get_ident)
        gate = threading.Event()
        first = asyncio.ensure_future(worker.run(gate.wait))
        await asyncio.sleep(0.05)
        with pytest.raises(WorkerBusy):
            await worker.run(lambda: None)
        gate.set()
        await first
        return loop_thread, ran_on

    loop_thread, ran_on = asyncio.run(main())
    assert loop_thread != ran_on


def test_a_stream_run_to_the_end_does_not_cancel_its_event():
    async def main():
        worker = ModelWorker("t")
        cancel = threading.Event()
        items = [x async for x in worker.stream(lambda: iter([1, 2, 3]), cancel=cancel)]
        return items, cancel.is_set()

    assert asyncio.run(main()) == ([1, 2, 3], False)


def test_run_when_idle_runs_alone_and_gives_way_to_waiting_calls():
    async def main():
        w = ModelWorker("t")
        ran = []
        assert await w.run_when_idle(lambda: ran.append("alone")) is True
        gate = threading.Event()
        busy = asyncio.ensure_future(w.run(gate.wait, 5))  # occupies the thread
        await asyncio.sleep(0.05)
        skipped = asyncio.ensure_future(w.run_when_idle(lambda: ran.append("skipped")))
        reply = asyncio.ensure_future(w.run(lambda: ran.append("reply")))  # waits behind it
        await asyncio.sleep(0.05)
        gate.set()
        results = await asyncio.gather(busy, skipped, reply)
        w.shutdown()
        return ran, results[1]

    ran, skipped = asyncio.run(main())
    assert ran == ["alone", "reply"] and skipped is False


def test_a_call_that_overruns_its_timeout_is_given_up_and_told_to_stop():
    stopped = threading.Event()

    def hangs(cancel):
        while not cancel.wait(0.01):
            pass
        stopped.set()

    async def main():
        worker = ModelWorker("t")
        with pytest.raises(ModelTimeout):
            await worker.run(hangs, timeout=0.2, cancel=threading.Event())
        return worker

    worker = asyncio.run(main())
    assert stopped.wait(2), "the hung call was not told to stop"
    assert worker.timeouts == 1


def test_a_timeout_counts_from_when_the_call_starts_not_while_it_queues():
    """Queued behind a long call from another session, a call is not timed out: only its own running time counts."""
    async def main():
        worker = ModelWorker("t")
        first = asyncio.ensure_future(worker.run(time.sleep, 0.6))
        await asyncio.sleep(0.05)
        return await worker.run(lambda: "done", timeout=0.3), await first

    assert asyncio.run(main())[0] == "done"


def test_a_stream_that_goes_silent_is_given_up_but_a_slow_steady_one_is_not():
    def steady():
        for i in range(5):
            time.sleep(0.1)
            yield i

    def stalls(cancel):
        yield "first"
        while not cancel.wait(0.01):
            pass

    async def main():
        worker = ModelWorker("t")
        got = [item async for item in worker.stream(steady, cancel=threading.Event(), stall_timeout=0.3)]
        cancel, partial = threading.Event(), []
        with pytest.raises(ModelTimeout):
            async for item in worker.stream(lambda: stalls(cancel), cancel=cancel, stall_timeout=0.3):
                partial.append(item)
        return got, partial, cancel.is_set()

    got, partial, cancelled = asyncio.run(main())
    assert got == [0, 1, 2, 3, 4] and partial == ["first"] and cancelled


def test_a_running_call_reports_how_long_it_has_run():
    async def main():
        worker = ModelWorker("t")
        assert worker.stuck_seconds() == 0
        call = asyncio.ensure_future(worker.run(time.sleep, 0.3))
        await asyncio.sleep(0.15)
        during = worker.stuck_seconds()
        await call
        return during, worker.stuck_seconds()

    during, after = asyncio.run(main())
    assert during > 0 and after == 0


def test_a_call_cancelled_while_it_queues_leaves_the_worker_idle_again():
    """A session that closes while its call waits behind another must not leave the worker looking busy for ever
    (read-ahead and other run-when-idle work would never run again on that server)."""
    async def main():
        worker = ModelWorker("t")
        busy = asyncio.ensure_future(worker.run(time.sleep, 0.3))
        await asyncio.sleep(0.05)
        queued = asyncio.ensure_future(worker.run_when_idle(lambda: None))
        streamed = asyncio.ensure_future(_drain(worker.stream(lambda: iter([1, 2]), cancel=threading.Event())))
        await asyncio.sleep(0.05)
        queued.cancel()
        streamed.cancel()
        await busy
        await asyncio.sleep(0.05)
        return worker.idle, await worker.run_when_idle(lambda: None)

    idle, ran = asyncio.run(main())
    assert idle and ran


async def _drain(stream):
    return [item async for item in stream]


def test_a_stream_that_keeps_giving_items_is_not_reported_stuck():
    """Stuck time counts from a stream's last item, not from its start: each new item resets it."""
    gate = threading.Event()

    def gated():
        yield "first"
        gate.wait(10)
        yield "second"

    async def main():
        worker = ModelWorker("t")
        stream = worker.stream(gated, cancel=threading.Event())
        await stream.__anext__()
        await asyncio.sleep(0.3)
        waited = worker.stuck_seconds()
        gate.set()
        await stream.__anext__()
        reset = worker.stuck_seconds()
        await stream.aclose()
        return waited, reset

    waited, reset = asyncio.run(main())
    assert waited >= 0.3 and reset < waited


def test_a_server_whose_model_call_hung_still_exits_when_stopped():
    """The same for a model worker (its executor's threads are joined at exit): the stopped server leaves anyway."""
    code = ("import asyncio, threading\nfrom server.cli import exit_past_hung_calls\nfrom server.config import Config\n"
            "from server.pipeline import Pipeline\nfrom server.workers import ModelTimeout, ModelWorker\n"
            "p = Pipeline(Config(), None, None, None, None, None, workers={'dialogue': ModelWorker('dialogue')})\n"
            "async def hang():\n    try:\n        await p.workers['dialogue'].run(threading.Event().wait, timeout=0.1)\n"
            "    except ModelTimeout:\n        print('timed out', flush=True)\n"
            "asyncio.run(hang())\np.close()\nexit_past_hung_calls(p)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "timed out", done.stderr
    assert "never returned: dialogue" in done.stderr
