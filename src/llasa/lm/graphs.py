"""Decode steps with static shapes, captured as one CUDA graph per batch bucket.

A decode step of a 1B model at small batch is a few hundred small kernels: on a GPU the time
goes to launching them, not to the math. :class:`StaticSteps` runs
:meth:`RowKVCache.decode <llasa.lm.rowcache.RowKVCache.decode>` with every shape fixed: the live
rows are padded up to a row bucket (1, 2, 4, 8, … up to the cache's slots) and attention spans a
length bucket (256, 512, 1024, … up to the capacity) that holds every live row's positions,
masked per row; reading the whole 2048-position cache of 128 rows would cost 8 GiB a step for
the 1B shape. On CUDA each (rows, length) bucket's step is captured once with
``torch.cuda.graph`` (lazily, on first use) and replayed: one launch per token step. Padding rows use free slots (live
rows are packed in ``[0, n)``) and write at position 0, which a later prefill overwrites.

Without CUDA (or with ``capture=False``) the same static-shape step runs eagerly, which is how
the CPU tests check that bucketing and full-capacity attention give the same tokens.
"""

from __future__ import annotations

import torch

from .._common.errors import InputError
from .rowcache import RowKVCache


def buckets_for(rows: int) -> list[int]:
    """Powers of two below ``rows``, then ``rows`` itself: [1, 2, 4, …, rows]."""
    out, b = [], 1
    while b < rows:
        out.append(b)
        b *= 2
    return out + [rows]


class StaticSteps:
    """Static-shape decode steps over ``cache`` (see the module docstring).

    Args:
        cache: the row cache (its tensors are the graphs' static inputs).
        capture: capture CUDA graphs (default: when the cache lives on CUDA).
        warmup: eager runs per bucket before capture (lets kernels pick their algorithms).
    """

    def __init__(self, cache: RowKVCache, capture: bool | None = None, warmup: int = 2):
        self.cache = cache
        dev = cache.keys[0].device
        self.capture = (dev.type == "cuda") if capture is None else bool(capture)
        if self.capture and dev.type != "cuda":
            raise InputError("CUDA graph capture needs the model on a CUDA device")
        self.buckets = buckets_for(cache.rows)
        self.lengths = [t for t in (256, 512, 1024) if t < cache.capacity] + [cache.capacity]
        self.warmup = int(warmup)
        r = cache.rows
        self._ids = torch.zeros(r, dtype=torch.long, device=dev)
        self._pos = torch.zeros(r, dtype=torch.long, device=dev)
        self._out: dict[tuple[int, int], torch.Tensor] = {}
        self._graphs: dict[tuple[int, int], "torch.cuda.CUDAGraph"] = {}
        self._pool = None

    def bucket(self, n: int) -> int:
        for b in self.buckets:
            if b >= n:
                return b
        raise InputError(f"{n} rows exceed the cache's {self.cache.rows} slots")

    def length(self, t: int) -> int:
        """The smallest length bucket holding ``t`` positions."""
        return next(x for x in self.lengths if x >= t)

    def decode(self, ids: torch.Tensor, pos: torch.Tensor, max_pos: int | None = None
               ) -> torch.Tensor:
        """ids, pos [n] for slots 0..n-1 → hidden [n, d]. ``max_pos``: the host's
        ``max(pos)`` (picks the length bucket; None: the whole capacity)."""
        n = int(ids.shape[0])
        b = self.bucket(n)
        t = self.cache.capacity if max_pos is None else self.length(int(max_pos) + 1)
        self._ids[:n].copy_(ids, non_blocking=True)
        self._pos[:n].copy_(pos, non_blocking=True)
        self._ids[n:b].zero_()
        self._pos[n:b].zero_()
        if not self.capture:
            return self.cache.decode(self._ids[:b], self._pos[:b], t)[:n]
        key = (b, t)
        if key not in self._graphs:
            self._capture(key)
        self._graphs[key].replay()
        return self._out[key][:n]

    def capture_all(self) -> None:
        """Capture every (rows, length) bucket now, e.g. before a server takes requests."""
        if self.capture:
            for key in ((b, t) for b in self.buckets for t in self.lengths):
                if key not in self._graphs:
                    self._capture(key)

    def _capture(self, key: tuple[int, int]) -> None:
        b, t = key
        ids, pos = self._ids[:b], self._pos[:b]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side), torch.inference_mode():
            for _ in range(self.warmup):  # rewrites this step's K/V: the same values
                self.cache.decode(ids, pos, t)
        torch.cuda.current_stream().wait_stream(side)
        g = torch.cuda.CUDAGraph()
        with torch.inference_mode(), torch.cuda.graph(g, pool=self._pool):
            self._out[key] = self.cache.decode(ids, pos, t)
        self._pool = g.pool()
        self._graphs[key] = g
