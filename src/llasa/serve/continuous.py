"""The continuous-batching model worker: requests join the running decode batch between steps.

:class:`ContinuousWorker` keeps :class:`~llasa.serve.worker.ModelWorker`'s queue, 429s,
timeouts and cancellation, but instead of running one job (or one same-key batch) to the end it
drives a :class:`~llasa.tts.batching.SpeechBatcher`: every loop it moves queued speech jobs into
the batch while rows are free (``max_batch`` requests decode together), runs one decoding step
for all of them, streams the audio that became ready (windows of all streams decoded together)
and answers the jobs that finished. A client that leaves, or times out, frees its row at the
next step; the others go on.

Jobs the batcher cannot run (search, long text, engines without a torch LM) run whole on the
same thread between two steps, exactly as ``ModelWorker`` runs them.
"""

from __future__ import annotations

import time
from typing import Any

from .._common.errors import InputError, LlasaError
from .._common.log import get_logger
from .engine import SpeechJob, SpeechOutput, _jsonable
from .worker import Cancelled, Job, ModelWorker

log = get_logger(__name__)


class ContinuousWorker(ModelWorker):
    """See the module docstring.

    Args:
        engine: the :class:`~llasa.serve.engine.LlasaEngine` whose ``tts`` the batch runs.
        max_queue: jobs allowed to wait beyond the running ones (more get 429).
        max_batch: requests decoded together (LM rows).
        codec_every: see :class:`~llasa.tts.batching.SpeechBatcher`.
        batcher_kw: more :class:`SpeechBatcher` arguments (``capacity``, ``static``, …).
    """

    def __init__(self, engine: Any, max_queue: int = 16, max_batch: int = 4,
                 codec_every: int = 1, **batcher_kw):
        super().__init__(max_queue, max_batch, 0.0)
        self.engine, self.codec_every, self.batcher_kw = engine, int(codec_every), batcher_kw
        self._batcher = None
        self._supported: bool | None = None
        self.stats.update({"steps": 0, "continuous": 0})

    # -- which jobs join the batch ------------------------------------------------------------
    def batcher(self):
        """The SpeechBatcher (built on first use, on the worker thread), or None when the
        engine's pipeline has no torch LM."""
        if self._supported is None:
            tts = getattr(self.engine, "tts", None)
            model = getattr(getattr(tts, "lm", None), "model", None)
            self._supported = hasattr(getattr(model, "model", None), "layers")
            if self._supported:
                from ..tts.batching import SpeechBatcher

                self._batcher = SpeechBatcher(tts, self.max_batch,
                                              codec_every=self.codec_every, **self.batcher_kw)
        return self._batcher

    def _joins(self, job: Job) -> bool:
        p = job.payload
        if not isinstance(p, SpeechJob) or p.search is not None:
            return False
        return self.batcher() is not None

    # -- worker thread ------------------------------------------------------------------------
    def _take_ready(self, block: bool) -> list[Job] | None:
        """Queued jobs that fit the free rows (waits for one when ``block``); None = stop."""
        with self._cond:
            while block and not self._q and not self._stop:
                self._cond.wait()
            if self._stop:
                return None
            b = self._batcher
            free = self.max_batch - (b.live if b is not None else 0)
            out = []
            while self._q and len(out) < max(free, 1 if block else 0):
                out.append(self._q.popleft())
            return out

    def _run(self) -> None:
        while True:
            b = self._batcher
            busy = b is not None and not b.idle
            jobs = self._take_ready(block=not busy)
            if jobs is None:
                if self._batcher is not None:
                    for t in self._batcher.cancel_all():
                        t.tag._resolve(error=Cancelled("server shutting down"))
                return
            for job in jobs:
                if job.cancelled():
                    self.stats["cancelled"] += 1
                    job._resolve(error=Cancelled("request cancelled"))
                elif self._joins(job):
                    self._submit(job)
                else:
                    self._run_whole(job)
            b = self._batcher
            if b is not None and not b.idle:
                self._step(b)

    def _run_whole(self, job: Job) -> None:
        """A job the batch cannot hold, run to its end (as ModelWorker runs it)."""
        job.started = time.monotonic()
        self.stats["running"] += 1
        try:
            [r] = job.fn([job])
            gone = job.cancelled()
            job._resolve(result=r)
            self.stats["cancelled" if gone else "completed"] += 1
        except BaseException as e:  # noqa: BLE001 - the thread must survive any job
            self._count_error(e, 1)
            job._resolve(error=e)
        finally:
            self.stats["running"] -= 1

    def _submit(self, job: Job) -> None:
        from ..tts.batching import NotBatchable  # torch: only once a torch engine is in use

        p: SpeechJob = job.payload
        eng = self.engine
        try:
            kw = eng._kwargs(p)
            if job.stream and "duration" in kw:  # streams have no duration: cap tokens
                rate = eng.frame_rate
                kw["max_new_tokens"] = max(1, round(rate * kw.pop("duration")))
            voice = eng.voice(p.voice)
            self._batcher.submit(p.text, voice, stream=job.stream,
                                 on_audio=job.emit if job.stream else None,
                                 should_stop=job.cancelled, tag=job, **kw)
        except NotBatchable:  # several text chunks: the pipeline's own path
            self._run_whole(job)
            return
        except InputError as e:
            self.stats["failed"] += 1
            job._resolve(error=e)
            return
        except BaseException as e:  # noqa: BLE001
            self._count_error(e, 1)
            job._resolve(error=e)
            return
        job.started = time.monotonic()
        self.stats["continuous"] += 1

    def _step(self, b) -> None:
        try:
            done = b.step()
        except BaseException as e:  # noqa: BLE001 - a failed step fails every live request
            tasks = b.cancel_all()
            self._count_error(e, len(tasks))
            for t in tasks:
                t.tag._resolve(error=e)
            return
        self.stats["steps"] += 1
        self.stats["batches"] = self.stats["steps"]
        self.stats["running"] = b.live
        self.stats["largest_batch"] = max(self.stats["largest_batch"], b.live + len(done))
        for t in done:
            self._answer(t)

    def _answer(self, t) -> None:
        job: Job = t.tag
        if t.cancelled:
            self.stats["cancelled"] += 1
            job._resolve(error=Cancelled("request cancelled"))
            return
        try:
            from .formats import change_speed

            p: SpeechJob = job.payload
            eng, r = self.engine, t.result
            voice = eng.voice(p.voice)
            scores = eng.score([r.audio], p.text, voice, p.verifiers)[0]
            info = {**r.info, "voice": p.voice, "batch_size": t.batch_rows,
                    "wall_seconds": round(r.info["timings"]["total"], 4)}
            if t.stream:
                info["first_chunk_seconds"] = round(t.first_audio or 0.0, 4)
                out = SpeechOutput(r.audio, r.sample_rate, scores, _jsonable(info))
            else:
                out = SpeechOutput(change_speed(r.audio, p.speed), r.sample_rate, scores,
                                   _jsonable(info))
            gone = job.cancelled()
            job._resolve(result=out)
            self.stats["cancelled" if gone else "completed"] += 1
        except BaseException as e:  # noqa: BLE001
            self._count_error(e, 1)
            job._resolve(error=e)

    def _count_error(self, e: BaseException, n: int) -> None:
        if isinstance(e, Cancelled):
            self.stats["cancelled"] += n
        else:
            self.stats["failed"] += n
            if not isinstance(e, LlasaError):
                log.exception("model job failed")


def make_worker(engine: Any, settings) -> ModelWorker:
    """The worker ``settings.scheduler`` names: "continuous" or "batch" (one batch per call)."""
    if getattr(settings, "scheduler", "batch") == "continuous":
        return ContinuousWorker(engine, settings.max_queue, settings.max_batch,
                                getattr(settings, "codec_every", 1),
                                first_chunk=getattr(settings, "stream_first_chunk", 0))
    return ModelWorker(settings.max_queue, settings.max_batch, settings.batch_wait_s)
