"""Decode steps with static shapes, captured as one CUDA graph per batch bucket.

A decode step of a 1B model at small batch is a few hundred small kernels: on a GPU the time
goes to launching them, not to the math. :class:`StaticSteps` runs
:meth:`RowKVCache.decode <llasa.lm.rowcache.RowKVCache.decode>` with every shape fixed: the live
rows are padded up to a bucket (1, 2, 4, 8, … up to the cache's slots) and attention spans the
whole capacity (masked per row). On CUDA each bucket's step is captured once with
``torch.cuda.graph`` and replayed: one launch per token step. Padding rows use free slots (live
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
        self.warmup = int(warmup)
        r = cache.rows
        self._ids = torch.zeros(r, dtype=torch.long, device=dev)
        self._pos = torch.zeros(r, dtype=torch.long, device=dev)
        self._out: dict[int, torch.Tensor] = {}
        self._graphs: dict[int, "torch.cuda.CUDAGraph"] = {}
        self._pool = None

    def bucket(self, n: int) -> int:
        for b in self.buckets:
            if b >= n:
                return b
        raise InputError(f"{n} rows exceed the cache's {self.cache.rows} slots")

    def decode(self, ids: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """ids, pos [n] for slots 0..n-1 → hidden [n, d]."""
        n = int(ids.shape[0])
        b = self.bucket(n)
        self._ids[:n].copy_(ids, non_blocking=True)
        self._pos[:n].copy_(pos, non_blocking=True)
        self._ids[n:b].zero_()
        self._pos[n:b].zero_()
        if not self.capture:
            return self.cache.decode(self._ids[:b], self._pos[:b], None)[:n]
        if b not in self._graphs:
            self._capture(b)
        self._graphs[b].replay()
        return self._out[b][:n]

    def capture_all(self) -> None:
        """Capture every bucket now (a server does this before taking requests)."""
        if self.capture:
            for b in self.buckets:
                if b not in self._graphs:
                    self._capture(b)

    def _capture(self, b: int) -> None:
        ids, pos = self._ids[:b], self._pos[:b]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side), torch.inference_mode():
            for _ in range(self.warmup):
                self.cache.decode(ids, pos, None)
        torch.cuda.current_stream().wait_stream(side)
        g = torch.cuda.CUDAGraph()
        with torch.inference_mode(), torch.cuda.graph(g, pool=self._pool):
            self._out[b] = self.cache.decode(ids, pos, None)
        self._pool = g.pool()
        self._graphs[b] = g
