"""Sampling settings and the logits processing applied at every decoding step.

Notation: ``b`` rows (prompts × candidates), ``v`` allowed ids (SPEECH_GENERATION_END + the
speech tokens; see :class:`~llasa.lm.decoding.HeadRows`).

Order of operations follows transformers' ``generate``: repetition penalty → temperature →
top-k → top-p → min-p → sample.
"""

from __future__ import annotations

import math

import torch

# re-exported: the settings live in a torch-free module
from .settings import (MIN_CHARS_PER_SECOND, SLACK_SECONDS, TOKENS_PER_SECOND,  # noqa: F401
                       GenerationSettings, max_new_tokens_for_text)


def apply_repetition_penalty(logits: torch.Tensor, history: torch.Tensor | None,
                             penalty: float) -> torch.Tensor:
    """transformers' repetition penalty on ids seen in ``history``.

    Args:
        logits: [b, v] float.
        history: [b, n] int64 indices into v (``-1`` = empty slot), or None.
    """
    if penalty == 1.0 or history is None or history.numel() == 0:
        return logits
    b, v = logits.shape
    # Empty slots point at an extra column that is dropped, so they never touch a real id.
    idx = torch.where(history >= 0, history, torch.full_like(history, v))
    seen = torch.zeros(b, v + 1, dtype=torch.bool, device=logits.device)
    seen.scatter_(1, idx, True)
    penalised = torch.where(logits < 0, logits * penalty, logits / penalty)
    return torch.where(seen[:, :v], penalised, logits)


def warp(logits: torch.Tensor, s: GenerationSettings) -> torch.Tensor:
    """Temperature, top-k, top-p and min-p on [b, v] float logits (masked entries = -inf)."""
    logits = logits / s.temperature
    if s.top_k and s.top_k < logits.shape[-1]:
        kth = torch.topk(logits, s.top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, -math.inf)
    if s.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=False)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        drop_sorted = cum <= (1 - s.top_p)
        drop_sorted[:, -1] = False  # always keep the most likely token
        drop = drop_sorted.scatter(1, order, drop_sorted)
        logits = logits.masked_fill(drop, -math.inf)
    if s.min_p > 0:
        probs = logits.softmax(-1)
        thresh = probs.max(-1, keepdim=True).values * s.min_p
        logits = logits.masked_fill(probs < thresh, -math.inf)
    return logits


def candidates(logits: torch.Tensor, s: GenerationSettings) -> tuple[torch.Tensor, torch.Tensor]:
    """Sampling distribution over the surviving ids only.

    With top-k on, the k best are taken first and the other warpers run on [b, k] instead of
    [b, v] (65 539 officially): the same distribution as :func:`warp` at a fraction of the cost.

    Returns:
        probs [b, k'] float32 and idx [b, k'] int64 (indices into v).
    """
    if s.top_k and s.top_k < logits.shape[-1]:
        vals, idx = torch.topk(logits, s.top_k, dim=-1)
        sub = GenerationSettings(temperature=s.temperature, top_p=s.top_p, top_k=0,
                                 min_p=s.min_p)
        return warp(vals, sub).softmax(-1), idx
    probs = warp(logits, s).softmax(-1)
    return probs, torch.arange(logits.shape[-1], device=logits.device).expand_as(probs)


def guide(cond: torch.Tensor, uncond: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance on [b, v] logits: ``u + scale · (c − u)`` of the
    log-probabilities (transformers' rule); ids masked in ``cond`` stay masked."""
    c, u = cond.float().log_softmax(-1), uncond.float().log_softmax(-1)
    out = u + scale * (c - u)
    return out.masked_fill_(~torch.isfinite(c) | torch.isnan(out), -math.inf)


def choose(logits: torch.Tensor, s: GenerationSettings, history: torch.Tensor | None,
           generator: torch.Generator) -> torch.Tensor:
    """Pick one index per row from [b, v] logits. Returns [b] int64."""
    logits = apply_repetition_penalty(logits.float(), history, s.repetition_penalty)
    if not s.do_sample:
        return logits.argmax(-1)
    probs, idx = candidates(logits, s)
    pick = torch.multinomial(probs, 1, generator=generator)  # [b, 1]
    return idx.gather(1, pick).squeeze(1)
