"""Sampling settings (a dataclass) and the token-cap policy: numpy/torch-free, so the CLI,
the server and the ONNX engine (:mod:`llasa.lm.onnx_lm`) use them without importing torch.

The cap policy lives here and nowhere else: :func:`token_budget` (an explicit cap, else
:func:`max_new_tokens_for_text`, clamped by ``token_limit`` and the room in the context).

The logits processing that applies them lives in :mod:`llasa.lm.sampling` (torch) and
:mod:`llasa.lm.np_sampling` (numpy).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .._common.errors import BudgetError, InputError
from .._common.units import FRAME_RATE

# The LM alone knows no codec: X-codec2's rate is its default; the pipeline passes its codec's.
TOKENS_PER_SECOND = FRAME_RATE
# Cap on speech length derived from text: even slow speech says >= 5 characters a second;
# 2 s slack covers pauses and very short texts.
MIN_CHARS_PER_SECOND = 5.0
SLACK_SECONDS = 2.0
# A normal reading pace (+ 1 s), used only to judge whether long text's carried chunk fits.
READING_CHARS_PER_SECOND = 12.0


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
        token_limit: an upper bound on the cap, whatever its source (a server's limit): the
            cap is ``min(cap, token_limit)``. None: no bound but the context.
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
    token_limit: int | None = None
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
        m = self.token_limit
        if m is not None and (not isinstance(m, int) or isinstance(m, bool) or m < 1):
            raise InputError(f"token_limit must be a positive integer or None, got {m!r}")
        if self.seed is not None and not isinstance(self.seed, int):
            raise InputError(f"seed must be an integer or None, got {self.seed!r}")


def max_new_tokens_for_text(num_chars: int, prompt_codes: int = 0,
                            frame_rate: int = TOKENS_PER_SECOND) -> int:
    """Token cap for speaking ``num_chars`` characters (prompt text included when cloning).

    ``50 × (2 s + chars / 5 chars/s)`` minus the speech the prompt already holds, at least 2 s.
    A runaway sample (no END) stops there instead of filling the 2048-token context.
    """
    seconds = SLACK_SECONDS + num_chars / MIN_CHARS_PER_SECOND
    total = math.ceil(round(frame_rate * seconds, 6))  # round: no 220.0000001 -> 221
    return max(total - prompt_codes, int(frame_rate * SLACK_SECONDS))


def reading_tokens(num_chars: int, frame_rate: int = TOKENS_PER_SECOND) -> int:
    """Tokens a normal reading of ``num_chars`` characters takes, plus one second of slack."""
    return int((num_chars / READING_CHARS_PER_SECOND + 1.0) * frame_rate)


def token_budget(num_chars: int, room: int, settings: GenerationSettings, *,
                 prompt_codes: int = 0, frame_rate: int = TOKENS_PER_SECOND) -> int:
    """New tokens allowed: ``settings.max_new_tokens``, else :func:`max_new_tokens_for_text`;
    at most ``settings.token_limit`` and the ``room`` left in the context (at least 1).

    Raises:
        BudgetError: the prompt leaves no room in the context.
    """
    if room < 1:
        raise BudgetError(f"the prompt leaves no room in the context ({room} tokens); use a "
                          "shorter voice prompt or shorter text")
    cap = settings.max_new_tokens or max_new_tokens_for_text(num_chars, prompt_codes, frame_rate)
    if settings.token_limit is not None:
        cap = min(cap, settings.token_limit)
    return max(1, min(int(cap), room))
