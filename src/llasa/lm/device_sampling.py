"""Batched sampling with per-row settings and per-row seeds, in tensor ops only.

:func:`~llasa.lm.sampling.choose` samples a batch that shares one settings object and one
``torch.Generator``; a continuous batch mixes requests with their own temperature, top-k/p,
min-p, repetition penalty and seed. :func:`sample_rows` takes each of those as a [n] tensor and
makes every choice on the logits' device, without a host sync (no ``.item()``), so it runs
after a CUDA-graph step with nothing copied back except the picks.

Randomness is counter-based: the uniform number behind id ``i`` of row ``r`` at step ``t`` is a
hash of ``(seed_r, row_r, t, i)``, and the pick is the Gumbel-max of the warped logits, an exact
sample of their softmax. A seeded request thus gets the same tokens on any device, in any batch,
next to any other requests (``torch.multinomial`` draws depend on the batch's shape). The
stream differs from :func:`~llasa.lm.sampling.choose`'s, so seeded outputs differ from
``generate``'s (greedy outputs are equal).

Order of operations follows :mod:`llasa.lm.sampling` (transformers' order): repetition penalty
→ temperature → top-k → top-p → min-p → sample.
"""

from __future__ import annotations

import math
import os

import torch

_M32 = 0xFFFFFFFF
_MIX = 0x45D9F3B  # < 2**27: every product of a 32-bit value stays inside int64


def _hash32(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer hash (int64 tensors holding values in [0, 2**32))."""
    x = (((x >> 16) ^ x) * _MIX) & _M32
    x = (((x >> 16) ^ x) * _MIX) & _M32
    return (x >> 16) ^ x


def uniforms(seed: torch.Tensor, row: torch.Tensor, step: torch.Tensor,
             ids: torch.Tensor) -> torch.Tensor:
    """U(0, 1) numbers [n, k] for ids [n, k] of rows with seed/row/step [n] (int64)."""
    s = _hash32((seed ^ (seed >> 32)) & _M32)
    key = _hash32(_hash32(s ^ ((row * 0x9E3779B1) & _M32)) ^ (step & _M32))
    h = _hash32(key[:, None] ^ ((ids * 0x632BE5AB) & _M32))
    return (h.double() + 0.5).div_(2.0 ** 32).float().clamp_(1e-7, 1 - 1e-7)


def sample_rows(logits: torch.Tensor, *, greedy: torch.Tensor, temperature: torch.Tensor,
                top_k: torch.Tensor, top_p: torch.Tensor, min_p: torch.Tensor,
                penalty: torch.Tensor, history: torch.Tensor | None, seed: torch.Tensor,
                row: torch.Tensor, step: torch.Tensor, k_max: int = 0) -> torch.Tensor:
    """Pick one index per row of float logits [n, v] (masked ids at -inf). Returns [n] int64.

    Args:
        greedy: [n] bool (argmax after the penalty). temperature, top_p, min_p, penalty: [n]
            float. top_k: [n] int64, 0 = off. history: [n, h] int64 indices into v (-1 empty).
        seed, row, step: [n] int64 counters of the random stream (see the module docstring).
        k_max: host-known bound on every sampled row's top-k (0: some row has none): the
            warpers then run on the k_max best ids instead of all v.
    """
    n, v = logits.shape
    logits = logits.float()
    if history is not None and history.numel():
        idx = torch.where(history >= 0, history, torch.full_like(history, v))
        seen = torch.zeros(n, v + 1, dtype=torch.bool, device=logits.device)
        seen.scatter_(1, idx, True)
        p = penalty[:, None]
        logits = torch.where(seen[:, :v], torch.where(logits < 0, logits * p, logits / p),
                             logits)
    best = logits.argmax(-1)
    if not logits.is_cuda and bool(greedy.all()):
        return best  # a CPU shortcut (on CUDA the check itself would sync)
    if 0 < k_max < v:
        vals, order = torch.topk(logits, k_max, dim=-1)  # sorted, descending
    else:
        vals, order = torch.sort(logits, dim=-1, descending=True)
    vals = vals / temperature[:, None]
    rank = torch.arange(vals.shape[1], device=vals.device)[None]
    k = torch.where(top_k > 0, top_k, torch.full_like(top_k, v))
    vals = vals.masked_fill(rank >= k[:, None], -math.inf)
    probs = vals.softmax(-1)
    before = probs.cumsum(-1) - probs  # mass of the better ids
    drop = (before >= top_p[:, None]) & (rank > 0) & (top_p[:, None] < 1)
    vals = vals.masked_fill(drop, -math.inf)
    probs = vals.softmax(-1)
    vals = vals.masked_fill(probs < probs[:, :1] * min_p[:, None], -math.inf)
    gumbel = -torch.log(-torch.log(uniforms(seed, row, step, order)))
    pick = order.gather(1, (vals + gumbel).argmax(-1, keepdim=True)).squeeze(1)
    return torch.where(greedy, best, pick)


def history_tensor(hist: list[list[int]], windows: int | list[int]) -> torch.Tensor:
    """Right-aligned [rows, width] int64 of each row's last ``window`` ids (0: all), -1 empty
    (what the repetition penalty reads)."""
    import numpy as np

    ws = windows if isinstance(windows, list) else [windows] * len(hist)
    hist = [h[-w:] if w else h for h, w in zip(hist, ws)]
    width = max(1, max(len(h) for h in hist))
    out = np.full((len(hist), width), -1, dtype=np.int64)
    for i, h in enumerate(hist):
        if h:
            out[i, width - len(h):] = h
    return torch.from_numpy(out)


def new_seed() -> int:
    """A random 63-bit seed for an unseeded request (its stream is still counter-based)."""
    return int.from_bytes(os.urandom(8), "little") >> 1


class RowSampler:
    """:func:`sample_rows` for the rows of a :class:`~llasa.lm.batcher.ContinuousBatcher`:
    builds the per-row tensors from each request's settings (small host→device copies)."""

    def __init__(self, head):
        self.head = head

    def choose(self, logits: torch.Tensor, reqs: list, rows: list[int]) -> torch.Tensor:
        dev = logits.device
        ss = [r.settings for r in reqs]
        for r in reqs:
            if getattr(r, "_row_seed", None) is None:
                r._row_seed = new_seed() if r.settings.seed is None else int(r.settings.seed)
        # prompt codes + the row's tokens, in each row's window (only the penalty reads them)
        ht = None
        if any(s.repetition_penalty != 1.0 for s in ss):
            ht = history_tensor([r._hist[j] for r, j in zip(reqs, rows)],
                                [s.repetition_window for s in ss])
        ks = [s.top_k if s.do_sample else 0 for s in ss]
        sampled = [s for s in ss if s.do_sample]
        k_max = 0 if any(not s.top_k for s in sampled) else max([s.top_k for s in sampled] or [0])

        def t(vals, dtype):
            return torch.tensor(vals, dtype=dtype).to(dev, non_blocking=True)

        return sample_rows(
            logits, greedy=t([not s.do_sample for s in ss], torch.bool),
            temperature=t([s.temperature if s.do_sample else 1.0 for s in ss], torch.float32),
            top_k=t(ks, torch.long), top_p=t([s.top_p for s in ss], torch.float32),
            min_p=t([s.min_p for s in ss], torch.float32),
            penalty=t([s.repetition_penalty for s in ss], torch.float32),
            history=None if ht is None else ht.to(dev, non_blocking=True),
            seed=t([r._row_seed for r in reqs], torch.long), row=t(rows, torch.long),
            step=t([len(r.tokens[j]) for r, j in zip(reqs, rows)], torch.long), k_max=k_max)
