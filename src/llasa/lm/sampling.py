"""Sampling settings and the logits processing applied at every decoding step.

Notation: ``b`` rows (prompts × candidates), ``v`` allowed ids (SPEECH_GENERATION_END + the
speech tokens; see :class:`~llasa.lm.decoding.HeadRows`).

Order of operations follows transformers' ``generate``: repetition penalty → temperature →
top-k → top-p → min-p → sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .._common.errors import InputError

TOKENS_PER_SECOND = 50  # X-codec2: 16 kHz / hop 320
# Cap on speech length derived from text: even slow speech says >= 5 characters a second;
# 2 s slack covers pauses and very short texts.
MIN_CHARS_PER_SECOND = 5.0
SLACK_SECONDS = 2.0


@dataclass
class GenerationSettings:
    """How speech tokens are sampled.

    Defaults follow the official model card (``do_sample=True, temperature=0.8, top_p=1``). The
    card passes no ``top_k``, so transformers' implicit ``top_k=50`` applied to the official
    call; we keep 50 as the default to sample the same distribution (0 disables it).

    Attributes:
        temperature: > 0; divides the logits.
        top_p: nucleus mass in (0, 1]; 1 disables it.
        top_k: keep the k most likely tokens; 0 disables it.
        min_p: drop tokens below ``min_p`` × the top probability; 0 disables it.
        repetition_penalty: >= 1 (1 = off); transformers' rule (divide positive logits,
            multiply negative ones) over codes already in the sequence (prompt speech included).
        repetition_window: only the last N speech tokens count for the penalty; 0 = all.
        max_new_tokens: explicit cap on new tokens (None: derived from the text length and the
            context, see :func:`max_new_tokens_for_text`).
        seed: seed of the sampling generator (None: random). Same seed → same output.
        do_sample: False = greedy decoding (argmax), used for tests and parity checks.
        cfg_scale: classifier-free guidance, >= 1 (1 = off). Each row is decoded twice, with
            its prompt and with the prompt's text left out, and the log-probabilities are
            combined as ``uncond + cfg_scale · (cond − uncond)``, which pushes the speech
            towards what the text says. Costs a second row per row. Works best with a model
            trained on some text-less items (``data.unconditional``).
    """

    temperature: float = 0.8
    top_p: float = 1.0
    top_k: int = 50
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    repetition_window: int = 0
    max_new_tokens: int | None = None
    seed: int | None = None
    do_sample: bool = True
    cfg_scale: float = 1.0

    def __post_init__(self):
        w = self.cfg_scale
        if not isinstance(w, (int, float)) or not math.isfinite(w) or not 1 <= w <= 20:
            raise InputError(f"cfg_scale must be a number in [1, 20] (1 = off), got {w!r}")
        t, p = self.temperature, self.top_p
        if not isinstance(t, (int, float)) or not math.isfinite(t) or t <= 0:
            raise InputError(f"temperature must be a number > 0, got {t!r}")
        if not isinstance(p, (int, float)) or not 0 < p <= 1:
            raise InputError(f"top_p must lie in (0, 1], got {p!r}")
        if not isinstance(self.top_k, int) or self.top_k < 0:
            raise InputError(f"top_k must be an integer >= 0 (0 = off), got {self.top_k!r}")
        if not isinstance(self.min_p, (int, float)) or not 0 <= self.min_p < 1:
            raise InputError(f"min_p must lie in [0, 1), got {self.min_p!r}")
        rp = self.repetition_penalty
        if not isinstance(rp, (int, float)) or not math.isfinite(rp) or rp < 1:
            raise InputError(f"repetition_penalty must be a number >= 1 (1 = off), got {rp!r}")
        if not isinstance(self.repetition_window, int) or self.repetition_window < 0:
            raise InputError("repetition_window must be an integer >= 0 (0 = whole sequence), "
                             f"got {self.repetition_window!r}")
        m = self.max_new_tokens
        if m is not None and (not isinstance(m, int) or m < 1):
            raise InputError(f"max_new_tokens must be a positive integer or None, got {m!r}")
        if self.seed is not None and not isinstance(self.seed, int):
            raise InputError(f"seed must be an integer or None, got {self.seed!r}")


def max_new_tokens_for_text(num_chars: int, prompt_codes: int = 0) -> int:
    """Token cap for speaking ``num_chars`` characters (prompt text included when cloning).

    ``50 × (2 s + chars / 5 chars/s)`` minus the speech the prompt already holds, at least 2 s.
    A runaway sample (no END) stops there instead of filling the 2048-token context.
    """
    seconds = SLACK_SECONDS + num_chars / MIN_CHARS_PER_SECOND
    total = math.ceil(round(TOKENS_PER_SECOND * seconds, 6))  # round: no 220.0000001 -> 221
    return max(total - prompt_codes, int(TOKENS_PER_SECOND * SLACK_SECONDS))


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
