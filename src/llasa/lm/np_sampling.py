"""The logits processing of :mod:`llasa.lm.sampling` in numpy, for one row (the ONNX engine).

Notation: ``v`` allowed ids (index 0 = SPEECH_GENERATION_END, 1 + k = code k, as the ONNX
graph lays them out; see :mod:`llasa.lm.onnx_export`).

Same order and rules as the torch sampler: repetition penalty → temperature → top-k (the k
best taken first, the other warpers run on them) → top-p → min-p → sample. The random stream
is numpy's ``default_rng(seed)``, not torch's: a seed reproduces the ONNX engine's output run
to run, but not the torch engine's for the same seed.
"""

from __future__ import annotations

import numpy as np

from .settings import GenerationSettings


def apply_repetition_penalty(logits: np.ndarray, history: np.ndarray | None,
                             penalty: float) -> np.ndarray:
    """transformers' rule on [v] logits: ids in ``history`` (indices into v, ``-1`` = none)
    have positive logits divided and negative ones multiplied by ``penalty``."""
    if penalty == 1.0 or history is None or not len(history):
        return logits
    seen = np.unique(history[history >= 0])
    out = logits.copy()
    x = out[seen]
    out[seen] = np.where(x < 0, x * penalty, x / penalty)
    return out


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def warp(logits: np.ndarray, s: GenerationSettings) -> np.ndarray:
    """Temperature, top-k, top-p and min-p on [v] float32 logits (masked entries = -inf)."""
    logits = logits / np.float32(s.temperature)
    if s.top_k and s.top_k < logits.shape[-1]:
        kth = np.partition(logits, -s.top_k)[-s.top_k]
        logits = np.where(logits < kth, -np.inf, logits).astype(np.float32)
    if s.top_p < 1.0:
        order = np.argsort(logits, kind="stable")  # ascending, as the torch sampler
        cum = np.cumsum(_softmax(logits[order]))
        drop_sorted = cum <= (1 - s.top_p)
        drop_sorted[-1] = False  # always keep the most likely token
        drop = np.empty_like(drop_sorted)
        drop[order] = drop_sorted
        logits = np.where(drop, -np.inf, logits).astype(np.float32)
    if s.min_p > 0:
        probs = _softmax(logits)
        logits = np.where(probs < probs.max() * s.min_p, -np.inf, logits).astype(np.float32)
    return logits


def candidates(logits: np.ndarray, s: GenerationSettings) -> tuple[np.ndarray, np.ndarray]:
    """(probs [k'], idx [k'] into v): the sampling distribution over the surviving ids."""
    if s.top_k and s.top_k < logits.shape[-1]:
        idx = np.argpartition(logits, -s.top_k)[-s.top_k:]
        idx = idx[np.argsort(-logits[idx], kind="stable")]  # best first, as torch.topk
        sub = GenerationSettings(temperature=s.temperature, top_p=s.top_p, top_k=0,
                                 min_p=s.min_p)
        return _softmax(warp(logits[idx], sub)), idx
    return _softmax(warp(logits, s)), np.arange(logits.shape[-1])


def choose(logits: np.ndarray, s: GenerationSettings, history: np.ndarray | None,
           rng: np.random.Generator) -> int:
    """Pick one index into v from [v] logits."""
    logits = apply_repetition_penalty(np.asarray(logits, np.float32), history,
                                      s.repetition_penalty)
    if not s.do_sample:
        return int(np.argmax(logits))  # first maximum, as torch.argmax
    probs, idx = candidates(logits, s)
    cum = np.cumsum(probs, dtype=np.float64)
    j = int(np.searchsorted(cum, rng.random() * cum[-1], side="right"))
    return int(idx[min(j, len(idx) - 1)])
