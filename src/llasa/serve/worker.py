"""One model worker thread behind a bounded queue: batching, 429 when full, cancellation.

The model is not thread-safe and a CPU/GPU runs one forward at a time, so every call that
touches the model goes through a single thread. The event loop never blocks: routes submit a
:class:`Job` and await its future. A full queue raises :class:`QueueFull` at once (the route
answers 429) instead of letting clients hang. Jobs with the same ``key`` that wait in the queue
together are run as one batch. A job whose client left or whose time ran out is marked
cancelled: if still queued it is dropped; if running, the LM asks :meth:`Job.cancelled` (as
``should_stop``) once per decoding step and stops with :class:`Cancelled`.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from typing import Any, Callable, Hashable

from .._common.errors import Cancelled as _Cancelled
from .._common.errors import LlasaError
from .._common.log import get_logger

log = get_logger(__name__)


class QueueFull(LlasaError):
    """The server is busy: the request queue is at its bound."""


class RequestTimeout(LlasaError):
    """A request did not finish within the server's per-request limit."""


class ClientGone(LlasaError):
    """The client disconnected before its result was ready."""


# The LM raises the same class when a job's should_stop() fires mid-generation.
Cancelled = _Cancelled


class Job:
    """A unit of model work. ``fn(jobs) -> list[result]`` runs on the worker thread.

    Args:
        fn: called with the list of jobs of one batch (length 1 unless ``key`` is set);
            returns one result per job.
        payload: the request data ``fn`` reads.
        key: jobs with equal non-None keys may be batched together.
        loop: event loop that owns the future and the chunk queue.
        stream: the client wants audio as it is decoded (``emit``); a continuous worker
            streams it itself (:mod:`.continuous`).
    """

    def __init__(self, fn: Callable[[list["Job"]], list[Any]], payload: Any,
                 key: Hashable | None, loop: asyncio.AbstractEventLoop, stream: bool = False):
        self.fn, self.payload, self.key, self.loop = fn, payload, key, loop
        self.stream = bool(stream)
        self.future: asyncio.Future = loop.create_future()
        self.chunks: asyncio.Queue = asyncio.Queue()  # streaming output, filled by emit()
        self._cancel = threading.Event()
        self.submitted = time.monotonic()
        self.started: float | None = None

    def cancel(self) -> None:
        self._cancel.set()

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        """Raise :class:`Cancelled` if the job was cancelled (called between model steps)."""
        if self._cancel.is_set():
            raise Cancelled("request cancelled")

    def emit(self, item: Any) -> None:
        """Hand a streamed item to the event loop (thread-safe)."""
        self.loop.call_soon_threadsafe(self.chunks.put_nowait, item)

    def _resolve(self, result: Any = None, error: BaseException | None = None) -> None:
        def done():
            if self.future.done():
                return
            if error is not None:
                self.future.set_exception(error)
                if isinstance(error, Cancelled):
                    self.future.exception()  # nobody may await a cancelled job: no warning

            else:
                self.future.set_result(result)
        self.loop.call_soon_threadsafe(done)


class ModelWorker:
    """Bounded FIFO of jobs served by one daemon thread.

    Args:
        max_queue: jobs allowed to wait (the running batch does not count).
        max_batch: largest batch of same-key jobs.
        batch_wait_s: extra time to wait for same-key jobs once a batchable job is taken.
    """

    def __init__(self, max_queue: int = 16, max_batch: int = 4, batch_wait_s: float = 0.02):
        self.max_queue, self.max_batch, self.batch_wait_s = max_queue, max_batch, batch_wait_s
        self._q: collections.deque[Job] = collections.deque()
        self._cond = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        self.stats = {"completed": 0, "failed": 0, "cancelled": 0, "rejected": 0, "batches": 0,
                      "largest_batch": 0, "running": 0}

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="llasa-model", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stop = True
            pending = list(self._q)
            self._q.clear()
            self._cond.notify_all()
        for job in pending:
            job.cancel()
            job._resolve(error=Cancelled("server shutting down"))
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def queued(self) -> int:
        return len(self._q)

    # -- submission (event loop side) ------------------------------------------------------
    def submit(self, fn: Callable[[list[Job]], list[Any]], payload: Any,
               key: Hashable | None = None, stream: bool = False) -> Job:
        """Queue a job or raise :class:`QueueFull` at once."""
        job = Job(fn, payload, key, asyncio.get_running_loop(), stream)
        with self._cond:
            if self._stop:
                raise QueueFull("server is shutting down")
            if len(self._q) >= self.max_queue:
                self.stats["rejected"] += 1
                raise QueueFull(f"server busy: {len(self._q)} requests already waiting "
                                f"(limit {self.max_queue}); retry later")
            self._q.append(job)
            self._cond.notify()
        return job

    def withdraw(self, job: Job) -> None:
        """Cancel a job; if it has not started, remove it so it frees its queue slot.

        A job whose result is already in is left alone: the streaming route withdraws every
        job when its response ends, and cancelling a finished job made the worker count it
        ``cancelled`` although its client got all of its audio (issue 19)."""
        if job.future.done():
            return
        job.cancel()
        with self._cond:
            try:
                self._q.remove(job)
            except ValueError:
                return
        self.stats["cancelled"] += 1
        job._resolve(error=Cancelled("request cancelled before it started"))

    async def result(self, job: Job, timeout: float, is_disconnected=None) -> Any:
        """Await a job's result; cancel it on timeout or when ``is_disconnected()`` says so."""
        deadline = job.submitted + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.withdraw(job)
                raise RequestTimeout(f"request took longer than the server limit of {timeout:g} s")
            done, _ = await asyncio.wait({job.future}, timeout=min(left, 0.2))
            if done:
                return job.future.result()
            if is_disconnected is not None and await is_disconnected():
                self.withdraw(job)
                raise ClientGone("client disconnected")

    # -- worker thread ---------------------------------------------------------------------
    def _take_batch(self) -> list[Job] | None:
        with self._cond:
            while not self._q and not self._stop:
                self._cond.wait()
            if self._stop:
                return None
            first = self._q.popleft()
            batch = [first]
            if first.key is None or self.max_batch == 1:
                return batch
            deadline = time.monotonic() + self.batch_wait_s
            while len(batch) < self.max_batch:
                for j in [j for j in self._q if j.key == first.key][: self.max_batch - len(batch)]:
                    self._q.remove(j)
                    batch.append(j)
                left = deadline - time.monotonic()
                if len(batch) >= self.max_batch or left <= 0:
                    break
                self._cond.wait(left)
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            live = [j for j in batch if not j.cancelled()]
            for j in batch:
                if j.cancelled():
                    self.stats["cancelled"] += 1
                    j._resolve(error=Cancelled("request cancelled"))
            if not live:
                continue
            now = time.monotonic()
            for j in live:
                j.started = now
            self.stats["running"] = len(live)
            self.stats["batches"] += 1
            self.stats["largest_batch"] = max(self.stats["largest_batch"], len(live))
            try:
                results = live[0].fn(live)
                for j, r in zip(live, results, strict=True):
                    # a client that left mid-batch (its rows were dropped) counts as cancelled;
                    # decided before resolving, after which the route may clean up
                    gone = j.cancelled()
                    j._resolve(result=r)
                    self.stats["cancelled" if gone else "completed"] += 1
            except BaseException as e:  # noqa: BLE001 - the thread must survive any job
                if isinstance(e, Cancelled):
                    self.stats["cancelled"] += len(live)
                else:
                    self.stats["failed"] += len(live)
                    if not isinstance(e, LlasaError):
                        log.exception("model job failed")
                for j in live:
                    j._resolve(error=e)
            finally:
                self.stats["running"] = 0
