"""Transcription with an LM trained in the ASR direction (``data.task: asr``).

The prompt is the ASR training sequence up to ``<|TEXT_GENERATION_START|>`` (see
:mod:`llasa.training.lm_data`); decoding is greedy and restricted to text tokens (the base
vocabulary minus its special tokens) and ``<|TEXT_GENERATION_END|>``, which ends it.
"""

from __future__ import annotations

import numpy as np
import torch

from .._common.errors import InputError
from .lm_data import SequenceBuilder


class _TextOnly:
    """Logits processor: -inf outside the allowed ids (text tokens + TEXT_GENERATION_END)."""

    def __init__(self, allowed: torch.Tensor):
        self.allowed = allowed

    def __call__(self, input_ids, scores):
        bad = torch.ones(scores.shape[-1], dtype=torch.bool, device=scores.device)
        bad[self.allowed.to(scores.device)] = False
        return scores.masked_fill(bad, float("-inf"))


def allowed_text_ids(tokenizer, vocab) -> torch.Tensor:
    """Ids an ASR model may emit: base-vocabulary tokens that are not special, + TGE."""
    special = set(tokenizer.all_special_ids)
    base = [i for i in range(vocab.text_gen_start) if i not in special]
    return torch.tensor(base + [vocab.text_gen_end], dtype=torch.long)


@torch.no_grad()
def transcribe_codes(model, tokenizer, codes_list, *, max_new_tokens: int = 200) -> list[str]:
    """Transcribe codec-code sequences with an ASR-direction Llasa LM.

    Args:
        model: ``LlamaForCausalLM`` trained with ``data.task: asr``.
        tokenizer: its Llasa tokenizer.
        codes_list: list of int codes [T_i] (16 kHz X-codec2 codes, 50 per second).
        max_new_tokens: cap on text tokens per utterance.

    Returns:
        One transcript per input.

    Raises:
        InputError: empty code sequences or codes outside the tokenizer's speech tokens.
    """
    from transformers import LogitsProcessorList

    builder = SequenceBuilder(tokenizer, "asr")
    v = builder.vocab
    proc = LogitsProcessorList([_TextOnly(allowed_text_ids(tokenizer, v))])
    was = model.training
    model.eval()
    out = []
    try:
        for codes in codes_list:
            codes = np.asarray(codes, np.int64).reshape(-1)
            if not codes.size:
                raise InputError("no speech codes to transcribe (empty audio?)")
            ids = torch.tensor([builder.prompt(codes=codes)], device=model.device)
            gen = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                 max_new_tokens=max_new_tokens, logits_processor=proc,
                                 eos_token_id=v.text_gen_end, pad_token_id=builder.pad_id)
            new = gen[0, ids.shape[1]:].tolist()
            if v.text_gen_end in new:
                new = new[: new.index(v.text_gen_end)]
            out.append(tokenizer.decode(new, skip_special_tokens=True).strip())
    finally:
        model.train(was)
    return out
