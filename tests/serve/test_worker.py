"""The model worker on plain Python jobs: bound, batching, cancellation, timeouts, survival."""

import asyncio
import threading
import time

import pytest

from llasa._common.errors import InputError
from llasa.serve.worker import Cancelled, ClientGone, ModelWorker, QueueFull, RequestTimeout


def run(coro):
    return asyncio.run(coro)


def test_queue_bound_batching_and_order():
    async def main():
        w = ModelWorker(max_queue=3, max_batch=3, batch_wait_s=0.05)
        w.start()
        gate = threading.Event()
        calls = []

        def blocker(jobs):
            gate.wait(5)
            return ["first"]

        def batch(jobs):
            calls.append([j.payload for j in jobs])
            return [p * 10 for p in (j.payload for j in jobs)]

        first = w.submit(blocker, None)
        await asyncio.sleep(0.1)  # the worker is now busy with `first`
        same = [w.submit(batch, i, key="k") for i in range(3)]
        with pytest.raises(QueueFull):
            w.submit(batch, 99, key="k")
        assert w.stats["rejected"] == 1
        gate.set()
        assert await w.result(first, 5) == "first"
        assert [await w.result(j, 5) for j in same] == [0, 10, 20]
        assert calls == [[0, 1, 2]]  # three same-key jobs ran as one batch
        assert w.stats["largest_batch"] == 3
        w.stop()

    run(main())


def test_different_keys_do_not_batch_and_errors_do_not_kill_the_thread():
    async def main():
        w = ModelWorker(max_queue=8, max_batch=4, batch_wait_s=0.0)
        w.start()
        sizes = []

        def fn(jobs):
            sizes.append(len(jobs))
            if jobs[0].payload == "bad":
                raise InputError("bad input")
            if jobs[0].payload == "bug":
                raise RuntimeError("bug")
            return [j.payload for j in jobs]

        a = w.submit(fn, "a", key=1)
        b = w.submit(fn, "b", key=2)
        bad = w.submit(fn, "bad")
        bug = w.submit(fn, "bug")
        c = w.submit(fn, "c")
        assert await w.result(a, 5) == "a" and await w.result(b, 5) == "b"
        with pytest.raises(InputError):
            await w.result(bad, 5)
        with pytest.raises(RuntimeError):
            await w.result(bug, 5)
        assert await w.result(c, 5) == "c"  # still serving after two failures
        assert max(sizes) == 1 and w.stats["failed"] == 2
        w.stop()

    run(main())


def test_timeout_withdraws_a_queued_job_and_running_job_can_stop():
    async def main():
        w = ModelWorker(max_queue=2, max_batch=1)
        w.start()
        steps = []

        def long(jobs):  # checks for cancellation between "model steps"
            for i in range(200):
                jobs[0].check()
                steps.append(i)
                time.sleep(0.01)
            return ["done"]

        running = w.submit(long, None)
        queued = w.submit(lambda jobs: ["never"], None)
        with pytest.raises(RequestTimeout):
            await w.result(queued, 0.2)
        assert w.queued == 0  # the slot is free again
        with pytest.raises(RequestTimeout):
            await w.result(running, 0.3)
        await asyncio.sleep(0.2)
        assert len(steps) < 100  # the running job stopped soon after its timeout
        with pytest.raises(Cancelled):
            await running.future
        w.stop()

    run(main())


def test_disconnect_cancels():
    async def main():
        w = ModelWorker(max_queue=2)
        w.start()
        gate = threading.Event()
        busy = w.submit(lambda jobs: [gate.wait(5)], None)
        job = w.submit(lambda jobs: ["ran"], None)

        async def gone():
            return True

        with pytest.raises(ClientGone):
            await w.result(job, 5, gone)
        gate.set()
        await w.result(busy, 5)
        assert job.cancelled() and w.stats["cancelled"] == 1
        w.stop()

    run(main())


def test_withdrawing_a_finished_job_does_not_count_it_cancelled():
    """Issue 19: the streaming route withdraws its job when the response ends; that used to
    set the cancel flag of a finished job, and the worker could then count it `cancelled`
    although the client had received everything."""
    async def main():
        w = ModelWorker(max_queue=4, max_batch=1, batch_wait_s=0.0)
        w.start()
        for i in range(50):
            j = w.submit(lambda jobs: [jobs[0].payload], i)
            assert await w.result(j, 5) == i
            w.withdraw(j)  # what _stream's finally does
            assert not j.cancelled()
        await asyncio.sleep(0.05)
        assert w.stats["completed"] == 50 and w.stats["cancelled"] == 0
        w.stop()

    run(main())
