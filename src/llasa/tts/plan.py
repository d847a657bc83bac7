"""The two steps under the :class:`~llasa.tts.pipeline.Llasa` façade: plan, then render.

:func:`plan` turns (text, voice, settings) into a :class:`Plan`: the prompt ids, the prompt codes
decoded in front of the new ones (``context``), and the token budget. The LM samples from
``plan.prompt`` with ``plan.settings``; :func:`render` decodes the new codes after the plan's
context and cuts the context's audio off. Plain, batched, long-text and streaming synthesis,
search and the evaluation's batches all go through these functions, so the prompt, the budget and
the decode are written once.

Why a context: the X-codec2 decoder is not causal (bidirectional transformer, GroupNorm over
time), so the prompt's last codes give the start of the new speech the same left context it had
in the LM's continuation; cutting at a code boundary (``hop * context`` samples) is exact.

Notation: ``t`` codec frames, ``n = hop · t`` samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .._common.errors import BudgetError, InputError
from ..lm.prompt import build_tts_prompt
from ..lm.settings import GenerationSettings, reading_tokens, token_budget
from .types import duration_to_tokens
from .voices import Voice

PROMPT_JOINS = ("bare", "space")  # see Llasa (prompt_join)


@dataclass(frozen=True)
class PlanConfig:
    """The pipeline's fixed choices that every plan follows (set by :class:`Llasa`).

    Attributes:
        frame_rate: codec frames (LM speech tokens) per second: the codec's ``frame_rate``.
        decode_context: prompt codes decoded in front of the new ones (0: none).
        join: how a voice's transcript meets the target text (``"bare"`` / ``"space"``).
    """

    frame_rate: int
    decode_context: int = 50
    join: str = "bare"

    def __post_init__(self):
        if not isinstance(self.decode_context, int) or self.decode_context < 0:
            raise InputError("decode_context must be an integer >= 0, got "
                             f"{self.decode_context!r}")
        if self.join not in PROMPT_JOINS:
            raise InputError(f"prompt_join must be one of {PROMPT_JOINS}, got {self.join!r}")


@dataclass(frozen=True)
class Plan:
    """One LM request: prompt ids, decoder context codes int64 [c], and the token budget.

    ``settings`` are the caller's with ``max_new_tokens = budget``; ``carried`` is True when
    the prompt holds the previous long-text chunk.
    """

    prompt: list[int]
    context: np.ndarray
    budget: int
    settings: GenerationSettings
    carried: bool = False


def check_voice(lm: Any, codec: Any, voice: Voice | None) -> None:
    """Refuse a voice this LM and codec cannot continue (InputError)."""
    if voice is None:
        return
    if not isinstance(voice, Voice):
        raise InputError(f"voice must be a llasa Voice, got {type(voice).__name__}")
    if voice.codebook_size != codec.codebook_size:
        raise InputError(f"this voice was encoded with a {voice.codebook_size}-code codec; "
                         f"the loaded codec has {codec.codebook_size} codes")
    if int(voice.codes.max()) >= lm.vocab.codebook_size:
        raise InputError("this voice has codes the LM has no speech token for")


def build_prompt(lm: Any, text: str, voice: Voice | None = None, *, join: str = "bare",
                 context: tuple[str, np.ndarray] | None = None) -> list[int]:
    """Prompt ids for checked ``text``: the official prompt, cloning ``voice`` if given, with
    an extra ``(text, codes)`` ``context`` spoken right after the voice (long text)."""
    texts, codes = [], []
    if voice is not None:
        texts.append(voice.text)
        codes.append(voice.codes)
    if context is not None:
        texts.append(context[0])
        codes.append(np.asarray(context[1], dtype=np.int64))
    # A model that reads phonemes gets each piece through its frontend separately, as its
    # training joined them (llasa.training.lm_data: pieces joined by a space).
    prep = lm.prepare_text
    if not texts:
        return list(build_tts_prompt(lm.tokenizer, prep(text)))
    if join == "bare" and context is None:
        prompt_text = prep(texts[0])  # the card: prompt_text + target_text, as given
    else:  # carried long-text pieces have no card recipe: spaces keep sentences apart
        prompt_text = " ".join(prep(t) for t in texts) + " "
    return list(build_tts_prompt(lm.tokenizer, prep(text), prompt_text=prompt_text,
                                 prompt_codes=np.concatenate(codes)))


def context_codes(vocab: Any, prompt: Sequence[int], n: int) -> np.ndarray:
    """The last ``n`` speech codes prefilled in ``prompt`` (int64 [<= n])."""
    ids = np.asarray(prompt, dtype=np.int64)
    starts = np.nonzero(ids == vocab.speech_start)[0]
    if not n or not starts.size:
        return np.zeros(0, np.int64)
    tail = ids[starts[-1] + 1:]
    codes = np.asarray(vocab.id_to_code(tail[vocab.is_speech(tail)]), dtype=np.int64)
    return codes[-n:]


def budget(lm: Any, text: str, prompt_len: int, settings: GenerationSettings,
           frame_rate: int, duration: float | None = None) -> int:
    """Speech tokens allowed for ``text`` after a ``prompt_len``-token prompt: a target
    duration exactly, else the LM's cap policy (:func:`llasa.lm.settings.token_budget`)."""
    room = int(lm.max_context) - prompt_len
    if room < 1:
        raise BudgetError(f"the prompt takes {prompt_len} tokens, leaving no room in the "
                          f"{lm.max_context}-token context; use a shorter voice prompt "
                          "or shorter text")
    if duration is not None:
        want = duration_to_tokens(duration, frame_rate)
        if want > room:
            raise BudgetError(f"duration {duration:g} s needs {want} tokens but only {room} "
                              "fit in the context after the prompt")
        return want
    return token_budget(len(text), room, settings, frame_rate=frame_rate)


def plan(lm: Any, text: str, voice: Voice | None, settings: GenerationSettings,
         config: PlanConfig, *, duration: float | None = None,
         carry: tuple[str, np.ndarray] | None = None, seed_offset: int = 0) -> Plan:
    """The plan for one checked text.

    Args:
        carry: the previous long-text chunk ``(text, codes)``; it joins the prompt only when
            the room left still holds a normal reading of ``text``.
        seed_offset: added to a set seed (long text: distinct but reproducible noise per chunk).
    """
    prompt = None
    if carry is not None:
        prompt = build_prompt(lm, text, voice, join=config.join, context=carry)
        if lm.max_context - len(prompt) < reading_tokens(len(text), config.frame_rate):
            prompt = None
    carried = prompt is not None
    if prompt is None:
        prompt = build_prompt(lm, text, voice, join=config.join)
    n = budget(lm, text, len(prompt), settings, config.frame_rate, duration)
    seed = settings.seed if settings.seed is None else int(settings.seed) + seed_offset
    return Plan(prompt, context_codes(lm.vocab, prompt, config.decode_context), n,
                replace(settings, max_new_tokens=n, seed=seed), carried)


def plan_batch(lm: Any, texts: Sequence[str], voices: Sequence[Voice | None],
               settings: GenerationSettings, config: PlanConfig,
               duration: float | None = None) -> list[Plan]:
    """Plans for one padded LM batch: one settings object serves the batch, so they share a
    budget: the largest text-derived cap, clipped to the room the longest prompt leaves."""
    prompts = [build_prompt(lm, t, v, join=config.join) for t, v in zip(texts, voices)]
    longest = max(len(p) for p in prompts)
    n = max(budget(lm, t, longest, settings, config.frame_rate, duration) for t in texts)
    run = replace(settings, max_new_tokens=n)
    return [Plan(p, context_codes(lm.vocab, p, config.decode_context), n, run)
            for p in prompts]


def render(codec: Any, plans: Plan | Sequence[Plan],
           codes: Sequence[np.ndarray]) -> list[np.ndarray]:
    """New codes [t_i] → float32 audio [hop · t_i], one batched decode after each plan's
    context (one plan: the same context for every row). Empty codes give empty audio."""
    if isinstance(plans, Plan):
        plans = [plans] * len(codes)
    out = [np.zeros(0, np.float32) for _ in codes]
    keep = [i for i, c in enumerate(codes) if len(c)]
    if not keep:
        return out
    hop = codec.hop_length
    full = [np.concatenate([plans[i].context, np.asarray(codes[i], np.int64)]) for i in keep]
    for i, a in zip(keep, codec.decode(full)):
        out[i] = np.asarray(a, np.float32).reshape(-1)[len(plans[i].context) * hop:]
    return out
