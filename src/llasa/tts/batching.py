"""Continuous batching of whole synthesis requests: text in, audio (streamed or whole) out.

:class:`SpeechBatcher` puts a :class:`~llasa.lm.batcher.ContinuousBatcher` under a
:class:`~llasa.tts.pipeline.Llasa` pipeline. :meth:`~SpeechBatcher.submit` plans a request
(the pipeline's prompt, token budget and decoder context) and queues it; every
:meth:`~SpeechBatcher.step` advances all live requests by one token, then decodes audio across
requests at once:

* streaming requests: each stream's next codec window (:mod:`llasa.codec.stream_windows`) is
  collected and equal-length windows of all streams go through the codec in one batch; the
  audio goes to the request's ``on_audio`` callback. The voice prompt's last codes are decoded
  in front as context and their audio is skipped, as :meth:`Llasa.stream` does.
* whole requests: the codes of every request that finished in this step are decoded together
  after their contexts (:meth:`Llasa.decode`); ``duration`` requests are padded to length.

With greedy (or seeded, host-sampled) settings the codes equal those of running each request
alone through the pipeline, and the audio equals it to float rounding (guided requests too).
Text that needs long-text chunking and search are not batched here: callers run them through
the pipeline (the server runs them between steps).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .._common.errors import InputError
from ..codec.stream_windows import StreamWindows, decode_windows
from ..lm.batcher import BatchRequest, ContinuousBatcher
from .plan import check_voice, plan
from .text import check_text, chunk_text
from .types import SynthesisResult


class NotBatchable(InputError):
    """A request this batcher does not run (long text); run it through the pipeline."""


class SpeechTask:
    """One request in a :class:`SpeechBatcher`; ``result`` is set when ``done``."""

    def __init__(self, req: BatchRequest, context: np.ndarray, budget: int, stream: bool,
                 duration: float | None, on_audio: Callable[[np.ndarray], None] | None,
                 windows: StreamWindows | None, skip: int, tag: Any):
        self.req, self.context, self.budget, self.stream = req, context, budget, stream
        self.duration, self.on_audio, self.windows, self.skip = duration, on_audio, windows, skip
        self.tag = tag  # the caller's handle (a server's job)
        self.submitted = time.perf_counter()
        self.first_audio: float | None = None  # seconds after submit
        self.chunks = 0
        self.batch_rows = 0  # most LM rows decoded together while this request ran
        self.parts: list[np.ndarray] = []
        self.result: SynthesisResult | None = None  # row 0
        self.rows: list[SynthesisResult] = []  # every candidate of an N-row request
        self.done = False

    @property
    def cancelled(self) -> bool:
        return self.req.cancelled


class SpeechBatcher:
    """Continuous batching over a torch :class:`~llasa.tts.pipeline.Llasa` pipeline.

    Args:
        tts: the pipeline (its ``lm`` must be a torch ``LlasaLM``).
        max_rows: LM rows decoded together (a search-style request takes ``num_rows``).
        stream_settings: codec windows for streaming requests (default ``StreamSettings()``).
        capacity, prefill_tokens, sampling, static: see :class:`ContinuousBatcher`.
        first_chunk: streaming: emit the first audio after ``first_chunk`` + crossfade new codes
            (:class:`~llasa.codec.stream_windows.StreamWindows`; 0: the standard windows,
            whose audio equals :meth:`Llasa.stream`'s).
        max_codec_batch: windows (or whole requests) per codec call.
        codec_every: decode streaming windows every this many steps (finished streams at
            once): windows of streams that became ready a few steps apart then share one
            codec call, for up to ``codec_every - 1`` tokens of added latency.
    """

    def __init__(self, tts, max_rows: int = 16, *, stream_settings: Any = None,
                 capacity: int | None = None, prefill_tokens: int = 4096,
                 sampling: str | None = None, static: bool | None = None,
                 first_chunk: int = 0, max_codec_batch: int = 64, codec_every: int = 1):
        if codec_every < 1:
            raise InputError(f"codec_every must be >= 1, got {codec_every}")
        self.tts = tts
        self.lm_batcher = ContinuousBatcher(tts.lm, max_rows, capacity, prefill_tokens,
                                            sampling, static)
        self.stream_settings, self.first_chunk = stream_settings, int(first_chunk)
        self.max_codec_batch, self.codec_every = int(max_codec_batch), int(codec_every)
        self.hop = int(tts.codec.hop_length)
        self._tasks: dict[int, SpeechTask] = {}
        self.codec_windows = 0  # windows decoded (for stats)
        self.codec_calls = 0

    @property
    def idle(self) -> bool:
        return not self._tasks

    @property
    def live(self) -> int:
        return len(self._tasks)

    def submit(self, text: str, voice=None, *, settings=None, duration: float | None = None,
               stream: bool = False, on_audio: Callable[[np.ndarray], None] | None = None,
               num_rows: int = 1, should_stop: Callable[[], bool] | None = None,
               tag: Any = None, **sampling) -> SpeechTask:
        """Plan and queue one request (InputError for what this batcher cannot run)."""
        tts = self.tts
        clean = check_text(text, tts.limits)
        if len(chunk_text(clean, tts.limits.chunk_chars)) > 1:
            raise NotBatchable("long text (several chunks) is not continuously batched; use "
                               "Llasa.synthesize / Llasa.stream")
        if stream and (num_rows != 1 or duration is not None):
            raise InputError("a streaming request has one row and no duration")
        s = tts.make_settings(settings, **sampling)
        check_voice(tts.lm, tts.codec, voice)
        p = plan(tts.lm, clean, voice, s, tts.plan_config, duration=duration)  # the pipeline's
        budget, context = p.budget, p.context
        req = BatchRequest(p.prompt, p.settings, num_rows, should_stop)
        windows, skip = None, 0
        if stream and self.first_chunk:  # the context is never decoded on its own
            windows = StreamWindows(tts.codec, self.stream_settings, context=len(context),
                                    first_chunk=self.first_chunk)
            windows.push(context)
        elif stream:  # as Llasa.stream: the context's audio comes out and is skipped
            windows = StreamWindows(tts.codec, self.stream_settings)
            windows.push(context)
            skip = len(context) * self.hop
        self.lm_batcher.submit(req)
        task = SpeechTask(req, context, budget, stream, duration, on_audio, windows, skip, tag)
        self._tasks[req.id] = task
        return task

    def step(self) -> list[SpeechTask]:
        """One LM step for every live request, then the audio that became ready; returns the
        tasks that finished (or were cancelled) in this step."""
        ended = {r.id for r in self.lm_batcher.step()}
        rows = self.lm_batcher.last_rows
        for t in self._tasks.values():
            if t.req.joined_at is not None:
                t.batch_rows = max(t.batch_rows, rows)
        streams = [t for t in self._tasks.values() if t.stream and not t.cancelled]
        for t in streams:
            # the LM's own codes: in range by construction (128 streams × a check per step adds up)
            t.windows.push(t.req.take_new(), final=t.req.done, checked=True)
        tick = self.lm_batcher.steps % self.codec_every == 0
        self._decode_streams([t for t in streams if tick or t.req.done])
        out = [self._tasks.pop(i) for i in ended]
        whole = [t for t in out if not t.stream and not t.cancelled]
        audios = self._decode_whole(whole)
        for t in out:
            self._finish(t, audios.get(id(t)))
        return out

    def cancel_all(self) -> list[SpeechTask]:
        """Drop every request (server shutdown); returns them."""
        self.lm_batcher.cancel_all()
        out = list(self._tasks.values())
        self._tasks.clear()
        for t in out:
            t.done = True
        return out

    # ------------------------------------------------------------------------- internals
    def _decode_streams(self, streams: list[SpeechTask]) -> None:
        while True:  # normally one round: a stream gains one token per step
            ready = [(t, w) for t in streams if (w := t.windows.window()) is not None]
            if not ready:
                return
            audios = decode_windows(self.tts.codec, [w for _, w in ready],
                                    self.max_codec_batch)
            self.codec_windows += len(ready)
            self.codec_calls += 1
            for (t, _), a in zip(ready, audios):
                seg = t.windows.accept(a)
                if t.skip:  # the context's audio is not the request's
                    cut = min(t.skip, len(seg))
                    seg, t.skip = seg[cut:], t.skip - cut
                if len(seg):
                    if t.first_audio is None:
                        t.first_audio = time.perf_counter() - t.submitted
                    t.chunks += 1
                    t.parts.append(seg)
                    if t.on_audio is not None:
                        t.on_audio(seg)

    def _decode_whole(self, tasks: list[SpeechTask]) -> dict[int, list[np.ndarray]]:
        codes, contexts, owner = [], [], []
        for t in tasks:
            for j in range(t.req.num_rows):
                c = t.req.codes(j)
                if len(c):
                    codes.append(c)
                    contexts.append(t.context)
                    owner.append((t, j))
        out = {id(t): [np.zeros(0, np.float32) for _ in range(t.req.num_rows)] for t in tasks}
        for k in range(0, len(codes), self.max_codec_batch):
            audios = self.tts.decode(codes[k:k + self.max_codec_batch],
                                     contexts[k:k + self.max_codec_batch])
            self.codec_calls += 1
            for (t, j), a in zip(owner[k:k + self.max_codec_batch], audios):
                out[id(t)][j] = np.asarray(a, np.float32)
        return out

    def _finish(self, t: SpeechTask, audios: list[np.ndarray] | None) -> None:
        r, sr = t.req, self.tts.sample_rate
        wall = time.perf_counter() - t.submitted
        rows = []
        for j in range(r.num_rows):
            if t.stream:
                audio = np.concatenate(t.parts) if t.parts else np.zeros(0, np.float32)
            else:
                audio = audios[j] if audios else np.zeros(0, np.float32)
            speech = len(audio) / sr
            if t.duration is not None and not r.cancelled:  # the LM may end early: pad
                audio = np.pad(audio, (0, max(0, t.budget * self.hop - len(audio))))
            info = {"tokens": r.num_tokens(j), "ended": bool(r.ended[j]),
                    "seconds": len(audio) / sr, "speech_seconds": speech, "chunks": 1,
                    "max_new_tokens": t.budget, "prompt_tokens": len(r.prompt),
                    "cancelled": bool(r.cancelled), "continuous": True,
                    "joined_step": r.joined_at, "batch_rows": t.batch_rows,
                    "first_audio_seconds": t.first_audio,
                    "audio_chunks": t.chunks, "timings": {"total": wall}}
            rows.append(SynthesisResult(audio=audio, sample_rate=sr, codes=r.codes(j),
                                        info=info))
        t.result, t.rows, t.done = rows[0], rows, True
