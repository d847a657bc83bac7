"""Continuous batching: requests join a running decode batch at step boundaries.

A server with one batch per call makes a new request wait for the whole running batch, and
keeps finished rows in it until the longest one ends. :class:`ContinuousBatcher` instead keeps
one set of live rows in a :class:`~llasa.lm.rowcache.RowKVCache`; each
:meth:`~ContinuousBatcher.step`

1. drops requests whose ``should_stop()`` is True (their slots are freed at once),
2. admits waiting requests while slots are free: each prompt is prefilled into a free slot and
   forked to the request's ``num_rows`` (best-of-N candidates share one prefill),
3. samples one token for every live row and feeds it back in one batched forward,
4. retires rows that ended (SPEECH_GENERATION_END or their token cap): the last live row moves
   into the freed slot, so live rows stay packed in slots ``[0, n)``.

Sampling is per request with the request's own seeded generator (``sampling="host"``, the CPU
default): every request gets exactly the tokens it would get from
:meth:`LlasaLM.generate <llasa.lm.model.LlasaLM.generate>` alone, greedy or seeded. Unseeded
requests with equal settings share one call. ``sampling="device"`` uses the batched on-device
sampler (:mod:`llasa.lm.device_sampling`, the CUDA default): one call for all rows, seeds
reproducible whatever else is in the batch, but a different random stream from ``generate``.

Classifier-free guidance (``cfg_scale != 1``) gives each row a twin slot that decodes the
:func:`~llasa.lm.prompt.unconditional_prompt` and is fed the row's tokens, as in
:class:`~llasa.lm.decoding.DecodeState` (in ``_owner`` a twin of row ``j`` is ``-j - 1``).
Not supported here: beam search (row forks mid-generation; it uses ``DecodeState``).
"""

from __future__ import annotations

import collections
import itertools
import math
import os
import threading
from collections.abc import Callable
from dataclasses import fields

import numpy as np
import torch

from .._common.errors import InputError
from .._common.seed import make_generator
from .decoding import _cap
from .device_sampling import history_tensor
from .rowcache import RowKVCache
from .prompt import unconditional_prompt
from .sampling import GenerationSettings, choose, guide

_ids = itertools.count()


class BatchRequest:
    """One request's rows in a :class:`ContinuousBatcher`.

    Args:
        prompt: token ids (e.g. from :meth:`LlasaLM.build_prompt`).
        settings: sampling settings; ``max_new_tokens`` caps each row (else the text-derived
            cap, as in ``generate``).
        num_rows: candidates sampled from one prefill (search's N).
        should_stop: asked once per step; True cancels the request (its slots free at once).

    Attributes (read them after :meth:`ContinuousBatcher.step` returned the request, or any
    time for streaming): ``done`` (all rows finished or cancelled), ``cancelled``,
    ``ended[j]`` (row j stopped on END), ``joined_at`` / ``finished_at`` (batcher step).
    """

    def __init__(self, prompt: list[int], settings: GenerationSettings, num_rows: int = 1,
                 should_stop: Callable[[], bool] | None = None):
        if num_rows < 1:
            raise InputError(f"num_rows must be >= 1, got {num_rows}")
        self.id = next(_ids)
        self.prompt, self.settings = list(prompt), settings
        self.cfg = settings.cfg_scale != 1.0  # each row has an unconditional twin row
        self._uncond: list[int] = []
        self.num_rows, self.should_stop = int(num_rows), should_stop
        self.tokens: list[list[int]] = [[] for _ in range(num_rows)]  # indices into v
        self.ended = [False] * num_rows
        self.row_done = [False] * num_rows
        self.done = self.cancelled = False
        self.joined_at: int | None = None
        self.finished_at: int | None = None
        self.cap = 0
        self._end = -1
        self._base = 0
        self._sent = [0] * num_rows
        self._generator: torch.Generator | None = None
        self._hist: list[list[int]] = []

    def codes(self, row: int = 0) -> np.ndarray:
        """Speech codes of ``row`` so far (int64 [t], END excluded)."""
        return np.asarray([t - self._base for t in self.tokens[row] if t != self._end],
                          dtype=np.int64)

    def take_new(self, row: int = 0) -> np.ndarray:
        """Codes of ``row`` sampled since the last call (for streaming)."""
        toks = self.tokens[row]
        new, self._sent[row] = toks[self._sent[row]:], len(toks)
        return np.asarray([t - self._base for t in new if t != self._end], dtype=np.int64)

    def num_tokens(self, row: int = 0) -> int:
        """LM tokens sampled for ``row`` (END included)."""
        return len(self.tokens[row])


def _share_key(s: GenerationSettings):
    """Unseeded requests whose sampling agrees may be sampled in one call."""
    return tuple(getattr(s, f.name) for f in fields(s) if f.name not in ("seed",
                                                                         "max_new_tokens",
                                                                         "token_limit"))


class ContinuousBatcher:
    """Rows of many requests decoded together; see the module docstring.

    Args:
        lm: a :class:`~llasa.lm.model.LlasaLM` (torch).
        max_rows: row slots (KV memory is ``max_rows × capacity`` positions).
        capacity: positions per slot (default: the LM's context, 2048).
        prefill_tokens: prompt tokens admitted per step beyond the first request, so a burst of
            arrivals does not stall the running rows for many prefills at once.
        sampling: "host" (per-request generators, equal to ``generate``) or "device";
            default: "device" on CUDA, else "host".
        static: decode with static shapes (:class:`~llasa.lm.graphs.StaticSteps`: row and
            length buckets), captured as CUDA graphs on CUDA; default: on CUDA unless the
            environment says ``LLASA_CUDA_GRAPHS=0``. On CPU the live prefix is cheaper.
    """

    def __init__(self, lm, max_rows: int = 16, capacity: int | None = None,
                 prefill_tokens: int = 4096, sampling: str | None = None,
                 static: bool | None = None):
        cuda = lm.device.type == "cuda"
        sampling = sampling or ("device" if cuda else "host")
        if sampling not in ("host", "device"):
            raise InputError(f"sampling must be 'host' or 'device', got {sampling!r}")
        self.lm, self.sampling = lm, sampling
        self.capacity = int(capacity or lm.max_context)
        self.cache = RowKVCache(lm.model, max_rows, self.capacity)
        self.max_rows = self.cache.rows
        self.prefill_tokens = int(prefill_tokens)
        self.head = lm.head_rows()
        dev = lm.device
        self._hidden = torch.zeros(self.max_rows, lm.model.config.hidden_size,
                                   dtype=lm.dtype, device=dev)
        self._pos = [0] * self.max_rows  # next position per slot
        self._tok = [0] * self.max_rows  # last sampled index (into v) per slot
        self._owner: list[tuple[BatchRequest, int]] = []  # slot -> (request, row)
        self._pending: collections.deque[BatchRequest] = collections.deque()
        self._lock = threading.Lock()
        self._shared_gen = make_generator(None, dev)
        self._sampler = None
        self._static = None
        if static is None:
            static = cuda and os.environ.get("LLASA_CUDA_GRAPHS", "1") != "0"
        if static:
            from .graphs import StaticSteps

            self._static = StaticSteps(self.cache)
        self.steps = 0
        self.tokens_generated = 0
        self.last_rows = 0  # rows sampled in the last step

    # ---------------------------------------------------------------------------- queue
    def submit(self, req: BatchRequest) -> BatchRequest:
        """Queue ``req``; it joins at the next step with enough free slots (thread-safe)."""
        if req.num_rows * (2 if req.cfg else 1) > self.max_rows:
            raise InputError(f"request needs {req.num_rows * (2 if req.cfg else 1)} rows "
                             f"(guidance doubles them); this batcher has {self.max_rows}")
        vocab = self.lm.vocab
        vocab.check_prompt(req.prompt)
        req.cap = min(_cap(self.lm, req.prompt, req.settings), self.capacity - len(req.prompt))
        if req.cap < 1:
            raise InputError(f"prompt of {len(req.prompt)} tokens leaves no room in the "
                             f"row cache ({self.capacity} positions)")
        req._end, req._base = self.head.end_index, self.head.speech_base
        arr = np.asarray(req.prompt, dtype=np.int64)
        spoken = (arr[vocab.is_speech(arr)] - vocab.speech_offset + req._base).tolist()
        w = req.settings.repetition_window
        req._hist = [list(spoken[-w:] if w else spoken) for _ in range(req.num_rows)]
        req._generator = make_generator(req.settings.seed, self.lm.device)
        if req.cfg:
            req._uncond = unconditional_prompt(req.prompt, vocab)
        with self._lock:
            self._pending.append(req)
        return req

    @property
    def live_rows(self) -> int:
        return len(self._owner)

    @property
    def waiting(self) -> int:
        return len(self._pending)

    @property
    def idle(self) -> bool:
        return not self._owner and not self._pending

    # ---------------------------------------------------------------------------- step
    def step(self) -> list[BatchRequest]:
        """Admit, sample one token per live row, retire; returns the requests that finished
        (or were cancelled) during this step."""
        finished: list[BatchRequest] = []
        self.last_rows = 0
        with torch.inference_mode():
            self._drop_cancelled(finished)
            self._admit(finished)
            if self._owner:
                self._sample_and_feed(finished)
        self.steps += 1
        return finished

    def cancel_all(self) -> list[BatchRequest]:
        """Cancel every live and waiting request (server shutdown)."""
        with self._lock:
            reqs = list(self._pending) + list(dict.fromkeys(r for r, _ in self._owner))
            self._pending.clear()
        self._owner = []
        for r in reqs:
            r.cancelled = r.done = True
        return reqs

    # ---------------------------------------------------------------------------- internals
    def _drop_cancelled(self, finished: list) -> None:
        with self._lock:
            for r in [r for r in self._pending if r.should_stop and r.should_stop()]:
                self._pending.remove(r)
                self._finish(r, finished, cancelled=True)
        gone = {r.id: r for r, _ in self._owner if r.should_stop and r.should_stop()}
        if gone:
            self._retire([s for s, (r, _) in enumerate(self._owner) if r.id in gone])
            for r in gone.values():
                self._finish(r, finished, cancelled=True)

    def _admit(self, finished: list) -> None:
        budget = self.prefill_tokens
        admitted = 0
        while True:
            with self._lock:
                if not self._pending:
                    return
                req = self._pending[0]
                need = req.num_rows * (2 if req.cfg else 1)
                if need > self.max_rows - len(self._owner):
                    return  # FIFO: a big request is not overtaken by small ones
                if admitted and len(req.prompt) > budget:
                    return
                self._pending.popleft()
            budget -= len(req.prompt)
            admitted += 1
            parts = [(req.prompt, range(req.num_rows))]
            if req.cfg:  # the twins: row j's is -j - 1
                parts.append((req._uncond, range(-1, -req.num_rows - 1, -1)))
            for prompt, rows in parts:
                slot = len(self._owner)
                h = self.cache.prefill(slot, torch.tensor(prompt, device=self.lm.device))
                for k, j in enumerate(rows):
                    self.cache.copy_row(slot, slot + k)
                    self._hidden[slot + k] = h
                    self._pos[slot + k] = len(prompt)
                    self._owner.append((req, j))
            req.joined_at = self.steps

    def _sample_and_feed(self, finished: list) -> None:
        n = self.last_rows = len(self._owner)
        logits = self.head.logits(self._hidden[:n])  # [n, v]
        rows = [s for s, (_, j) in enumerate(self._owner) if j >= 0]  # twins only guide
        twin = {(r.id, -j - 1): s for s, (r, j) in enumerate(self._owner) if j < 0}
        if twin:
            logits = self._guide(logits, rows, twin)
        idx = torch.tensor(rows, device=logits.device)
        logits = logits[idx]  # [rows, v]
        first = torch.tensor([not self._owner[s][0].tokens[self._owner[s][1]] for s in rows],
                             device=logits.device)
        logits[:, self.head.end_index].masked_fill_(first, -math.inf)  # never END at step 0
        picks = self._choose(logits, rows).tolist()
        retire, touched = [], {}
        for s, tok in zip(rows, picks):
            req, j = self._owner[s]
            if req.cfg:  # the twin is fed the row's token
                self._tok[twin[(req.id, j)]] = tok
            req.tokens[j].append(tok)
            req._hist[j].append(tok)
            self._tok[s] = tok
            ended = tok == self.head.end_index
            if ended or len(req.tokens[j]) >= req.cap:
                req.ended[j], req.row_done[j] = ended, True
                retire += [s, twin[(req.id, j)]] if req.cfg else [s]
                touched[req.id] = req
        self.tokens_generated += len(rows)
        self._retire(retire)  # rows that end now are not fed: pack the others first
        for req in touched.values():
            if all(req.row_done):
                self._finish(req, finished)
        m = len(self._owner)
        if m:  # one forward for every row that goes on
            dev = logits.device
            ids = self.head.ids[torch.tensor(self._tok[:m], device=dev)]
            pos = torch.tensor(self._pos[:m], device=dev)
            if self._static is not None:
                self._hidden[:m] = self._static.decode(ids, pos, max(self._pos[:m]))
            else:  # attend to the live prefix only
                self._hidden[:m] = self.cache.decode(ids, pos, max(self._pos[:m]) + 1)
            for s in range(m):
                self._pos[s] += 1

    def _guide(self, logits: torch.Tensor, rows: list[int], twin: dict) -> torch.Tensor:
        """Guided logits for the rows of guided requests (their twins' rows are unused)."""
        logits = logits.clone()
        by_scale: dict = {}
        for s in rows:
            req, j = self._owner[s]
            if req.cfg:
                by_scale.setdefault(req.settings.cfg_scale, []).append((s, twin[(req.id, j)]))
        for scale, pairs in by_scale.items():
            c = torch.tensor([a for a, _ in pairs], device=logits.device)
            u = torch.tensor([b for _, b in pairs], device=logits.device)
            logits[c] = guide(logits[c], logits[u], scale)
        return logits

    def _choose(self, logits: torch.Tensor, rows: list[int]) -> torch.Tensor:
        """One pick per entry of ``rows`` (slots) from their logits [len(rows), v]."""
        if self.sampling == "device":
            from .device_sampling import RowSampler

            if self._sampler is None:
                self._sampler = RowSampler(self.head)
            return self._sampler.choose(logits, [self._owner[s][0] for s in rows],
                                        [self._owner[s][1] for s in rows])
        picks = torch.empty(logits.shape[0], dtype=torch.long, device=logits.device)
        groups: dict = {}
        for i, s in enumerate(rows):  # i: index into logits
            req, j = self._owner[s]
            # greedy rows never touch a generator, unseeded ones may share one
            shared = req.settings.seed is None or not req.settings.do_sample
            key = ("shared", _share_key(req.settings)) if shared else ("own", req.id)
            groups.setdefault(key, []).append(i)
        for key, ids in groups.items():
            req = self._owner[rows[ids[0]]][0]
            s_ = req.settings
            # rows of one request in row order: the generator sees what generate() feeds it
            ids.sort(key=lambda i: (self._owner[rows[i]][0].id, self._owner[rows[i]][1]))
            ht = None
            if s_.repetition_penalty != 1.0:  # the history only matters to the penalty
                ht = history_tensor([self._owner[rows[i]][0]._hist[self._owner[rows[i]][1]]
                                     for i in ids], s_.repetition_window)
            gen = self._shared_gen if key[0] == "shared" else req._generator
            idx = torch.tensor(ids, device=logits.device)
            picks[idx] = choose(logits[idx], s_, None if ht is None else ht.to(logits.device),
                                gen)
        return picks

    def _retire(self, slots: list[int]) -> None:
        """Free ``slots``: the last live rows move into the holes (live rows stay packed)."""
        for s in sorted(set(slots), reverse=True):
            last = len(self._owner) - 1
            if s != last:
                self.cache.copy_row(last, s)
                self._hidden[s] = self._hidden[last]
                self._pos[s] = self._pos[last]
                self._tok[s] = self._tok[last]
                self._owner[s] = self._owner[last]
            self._owner.pop()

    def _finish(self, req: BatchRequest, finished: list, cancelled: bool = False) -> None:
        req.done, req.cancelled, req.finished_at = True, cancelled, self.steps
        finished.append(req)
