"""The decoding engine: prefill once, sample speech tokens row by row, fork KV-cache rows.

Notation: ``b`` rows (prompts × candidates, or search beams), ``t`` sequence positions,
``v`` allowed output ids (SPEECH_GENERATION_END + the speech tokens), ``d`` hidden size.

Why it is faster than ``model.generate`` on CPU: the output projection only multiplies the
rows that may be sampled (65 539 of 193 800 officially; that matrix is ~30 % of each step's
weight reads), logits processing runs on those rows only, the prompt is prefilled once and its
keys/values shared by the N candidates, and per step there is one lean forward of the decoder
stack (:mod:`llasa.lm.rowcache`) plus a few small tensor ops.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from .._common.errors import BudgetError, Cancelled, InputError
from .._common.seed import make_generator
from .._common.packing import decode_batch_hint, pack_weight, packed_linear
from .prompt import unconditional_prompt
from .rowcache import RowKVCache
from .sampling import GenerationSettings, choose, guide
from .settings import token_budget
from .tokens import SpeechVocab


class HeadRows:
    """The allowed output rows of the LM head: SPEECH_GENERATION_END and the speech tokens.

    Officially END (128261) sits 3 ids before ``<|s_0|>`` (128264), so one contiguous *view* of
    ``lm_head.weight[128261:193800]`` covers them; the 2 rows in between are masked.
    """

    def __init__(self, lm_head_weight: torch.Tensor, vocab: SpeechVocab, packed: bool = False,
                 quant: str | None = None, act_absmax: torch.Tensor | None = None):
        self.source_ptr = lm_head_weight.data_ptr()  # lets the owner notice moved weights
        lo = min(vocab.speech_end, vocab.speech_offset)
        hi = vocab.speech_offset + vocab.codebook_size
        if vocab.speech_end < hi and hi - lo <= vocab.codebook_size + 64:
            self.ids = torch.arange(lo, hi)
            self.weight = lm_head_weight[lo:hi]  # view, no copy
        else:  # unusual layout: gather the rows once
            self.ids = torch.cat([torch.tensor([vocab.speech_end]),
                                  torch.arange(vocab.speech_offset, hi)])
            self.weight = lm_head_weight[self.ids.to(lm_head_weight.device)]
        self.end_index = int((self.ids == vocab.speech_end).nonzero()[0, 0])
        is_ok = (self.ids >= vocab.speech_offset) | (self.ids == vocab.speech_end)
        self.banned = (~is_ok).to(lm_head_weight.device)  # [v]
        self.speech_base = int((self.ids == vocab.speech_offset).nonzero()[0, 0])
        self.ids = self.ids.to(lm_head_weight.device)
        # packed: a oneDNN (or bf16 kernel) copy of the allowed rows; the tied embedding keeps
        # the original
        self.packed = self.bf16 = None
        if packed and not quant:
            from . import bf16

            if self.weight.dtype == torch.bfloat16 and bf16.preferred():
                self.bf16 = bf16.pack_bf16(self.weight)
            else:
                self.packed = pack_weight(self.weight, decode_batch_hint(self.weight.dtype))
        self.quantized = None
        if quant:  # the allowed rows alone, quantized like the layers
            from .quant import quantize_weight

            self.quantized = quantize_weight(quant, self.weight, act_absmax)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """[b, d] hidden states → [b, v] float32 logits with the non-speech rows at -inf."""
        if self.quantized is not None:
            out = self.quantized(hidden).float()
        elif self.packed is not None:
            out = packed_linear(hidden, self.packed).float()
        elif self.bf16 is not None:
            from .bf16 import bf16_matmul

            out = bf16_matmul(hidden, self.bf16, len(self.ids)).float()
        else:
            out = torch.nn.functional.linear(hidden, self.weight).float()
        return out.masked_fill_(self.banned, -math.inf)


class DecodeState:
    """Rows of speech being generated, sharing one batched KV cache.

    Built by :meth:`llasa.lm.model.LlasaLM.start`. Each row remembers its sampled tokens, whether
    it ended on SPEECH_GENERATION_END, and its token cap. :meth:`select` keeps/duplicates rows
    (forking their KV-cache rows), which is what beam/best-of-N search needs.

    ``should_stop`` (optional, no arguments) is asked before every decoding step; once it
    returns True, :meth:`step` raises :class:`~llasa._common.errors.Cancelled` (cooperative
    cancellation: a server stops a request whose client left; one call per step costs nothing
    next to a forward pass).

    With ``settings.cfg_scale != 1`` every row has a hidden twin decoding its
    :func:`~llasa.lm.prompt.unconditional_prompt` (the KV cache holds rows ``0..b`` and their
    twins ``b..2b``); both are fed the row's sampled token, and the row samples from the
    guided logits (:func:`~llasa.lm.sampling.guide`).
    """

    def __init__(self, lm, prompts: list[list[int]], repeats: int,
                 settings: GenerationSettings,
                 should_stop: Callable[[], bool] | None = None):
        if not prompts:
            raise InputError("no prompts given")
        if repeats < 1:
            raise InputError(f"number of rows/candidates must be >= 1, got {repeats}")
        self.lm, self.settings, self.should_stop = lm, settings, should_stop
        self.model, vocab, dev = lm.model, lm.vocab, lm.device
        self.head = lm.head_rows()
        self.generator = make_generator(settings.seed, dev)
        self.cfg = settings.cfg_scale != 1.0
        caps, hist = [], []
        for p in prompts:
            vocab.check_prompt(p)
            caps.append(_cap(lm, p, settings))
            arr = np.asarray(p, dtype=np.int64)
            spoken = (arr[vocab.is_speech(arr)] - vocab.speech_offset).tolist()
            hist.append(spoken[-settings.repetition_window:] if settings.repetition_window
                        else spoken)
        rows = [list(p) for p in prompts]
        if self.cfg:  # the unconditional twins, after the rows
            rows += [unconditional_prompt(p, vocab) for p in prompts]
        lens = [len(p) for p in rows]
        self._pos = torch.tensor(lens, device=dev)  # next position id per row
        self._t = max(lens)  # positions any row has written: attention reads [0, _t]
        # One KV slot per row (lm.rowcache, the forward continuous batching runs too): each
        # prompt is prefilled alone, so no padding and no mask. One prompt forked into
        # candidates (best-of-N, search beams) has its keys/values stored once and read once
        # per step by all rows.
        shared = len(rows) == 1 and repeats > 1
        self.cache = RowKVCache(self.model, len(rows), max(lens) + max(caps),
                                prefix=lens[0] if shared else 0)
        with torch.inference_mode():
            if shared:
                hidden = self.cache.prefill_prefix(torch.tensor(rows[0], device=dev))[None]
            else:
                hidden = torch.stack([self.cache.prefill(r, torch.tensor(p, device=dev))
                                      for r, p in enumerate(rows)])
        h = max(1, max(len(x) for x in hist)) if any(hist) else 0
        hist_t = torch.full((len(prompts), h), -1, dtype=torch.long)
        for r, x in enumerate(hist):  # right-aligned so "the last W columns" is a window
            if x:
                hist_t[r, h - len(x):] = torch.tensor(x) + self.head.speech_base
        self._hist = hist_t.to(dev)  # [b, h] indices into v (-1 = empty)
        self._hidden = hidden  # [b (+ b twins), d] last hidden state per row
        self._caps = torch.tensor(caps, device=dev)
        self._tokens: list[list[int]] = [[] for _ in prompts]  # indices into v
        self._done = torch.zeros(len(prompts), dtype=torch.bool, device=dev)
        self._ended = torch.zeros(len(prompts), dtype=torch.bool, device=dev)
        self.tokens_generated = 0
        if repeats > 1:
            self.select([r for r in range(len(prompts)) for _ in range(repeats)])

    # ---- search API -----------------------------------------------------------------------
    @property
    def num_rows(self) -> int:
        return len(self._tokens)

    def finished(self, row: int) -> bool:
        """True once the row sampled SPEECH_GENERATION_END or hit its token cap."""
        return bool(self._done[row])

    def ended(self, row: int) -> bool:
        """True if the row stopped on SPEECH_GENERATION_END (False: still going or capped)."""
        return bool(self._ended[row])

    def codes(self, row: int) -> np.ndarray:
        """New speech codes of ``row`` so far, int64 [T] (END excluded)."""
        base = self.head.speech_base
        return np.asarray([i - base for i in self._tokens[row] if i != self.head.end_index],
                          dtype=np.int64)

    def num_tokens(self, row: int) -> int:
        """LM tokens sampled for ``row`` (END included)."""
        return len(self._tokens[row])

    def select(self, rows: list[int]) -> None:
        """Keep rows by index, in order; an index may repeat (the row is forked) or be left out.

        Args:
            rows: indices into the current rows; the new row count is ``len(rows)``.
        """
        if not rows:
            raise InputError("select needs at least one row")
        if min(rows) < 0 or max(rows) >= self.num_rows:
            raise InputError(f"row index out of range [0, {self.num_rows}): {rows}")
        idx = torch.tensor(rows, device=self._pos.device)
        n = self.num_rows  # twins move with their rows
        both = torch.cat([idx, idx + n]) if self.cfg else idx
        self.cache.select(both)
        for name in ("_pos", "_hidden"):
            setattr(self, name, getattr(self, name)[both])
        for name in ("_hist", "_caps", "_done", "_ended"):
            setattr(self, name, getattr(self, name)[idx])
        self._tokens = [list(self._tokens[r]) for r in rows]

    def step(self, max_tokens: int = 1) -> int:
        """Advance every unfinished row by up to ``max_tokens`` tokens.

        Returns:
            number of tokens sampled (summed over rows).

        Raises:
            Cancelled: ``should_stop()`` returned True before a step (tokens sampled so far
                stay readable through :meth:`codes`).
        """
        made = 0
        stop = self.should_stop
        with torch.inference_mode():
            for _ in range(max_tokens):
                if bool(self._done.all()):
                    break
                if stop is not None and stop():
                    raise Cancelled("generation cancelled")
                made += self._one_step()
        return made

    # ---- internals ------------------------------------------------------------------------
    def _one_step(self) -> int:
        s, head = self.settings, self.head
        logits = head.logits(self._hidden)  # [b, v] ([2b, v] with twins)
        if self.cfg:
            b = self.num_rows
            logits = guide(logits[:b], logits[b:], s.cfg_scale)
        n_gen = torch.tensor([len(t) for t in self._tokens], device=logits.device)
        logits[:, head.end_index].masked_fill_(n_gen == 0, -math.inf)  # never END at step 0
        hist = self._hist
        if s.repetition_window and hist.shape[1] > s.repetition_window:
            hist = hist[:, -s.repetition_window:]
        pick = choose(logits, s, hist, self.generator)  # [b]
        live = ~self._done
        pick = torch.where(live, pick, torch.full_like(pick, head.end_index))
        made = int(live.sum())
        self.tokens_generated += made
        for r, (is_live, tok) in enumerate(zip(live.tolist(), pick.tolist())):
            if is_live:
                self._tokens[r].append(tok)
        n_gen = n_gen + live.long()
        hit_end = live & (pick == head.end_index)
        self._ended |= hit_end
        self._done |= hit_end | (n_gen >= self._caps)
        if bool(self._done.all()):
            return made  # nothing to feed: skip the forward
        self._hist = torch.cat([self._hist, torch.where(live, pick, -1)[:, None]], 1)
        ids = head.ids[pick]  # [b]
        if self.cfg:
            ids = ids.repeat(2)
        self._t += 1
        self._hidden = self.cache.decode(ids, self._pos, self._t)
        self._pos = self._pos + 1
        return made


def _cap(lm, prompt: list[int], s: GenerationSettings) -> int:
    """New-token cap of one prompt: explicit or from its text length, within the context."""
    room = lm.max_context - len(prompt)
    if room < 1:
        raise BudgetError(f"prompt of {len(prompt)} tokens leaves no room in the "
                          f"{lm.max_context}-token context; shorten the text or voice prompt")
    chars, speech = (0, 0) if s.max_new_tokens is not None else lm.prompt_stats(prompt)
    return token_budget(chars, room, s, prompt_codes=speech)
