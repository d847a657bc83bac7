"""The row cache's shared prompt: stored once, attended once per step by every row, with the
same hidden states as rows that each hold their own copy of it."""

from __future__ import annotations

import pytest
import torch

from llasa._common.errors import InputError
from llasa.lm import GenerationSettings
from llasa.lm.rowcache import RowKVCache


def test_shared_prompt_equals_a_copy_per_row(lm):
    ids = torch.tensor(lm.build_prompt("One prompt, many rows."))
    p, rows, steps = len(ids), 3, 6
    plain = RowKVCache(lm.model, rows, p + steps + 1)
    shared = RowKVCache(lm.model, rows, p + steps + 1, prefix=p)
    with torch.inference_mode():
        h_plain = [plain.prefill(r, ids) for r in range(rows)][0]
        h_shared = shared.prefill_prefix(ids)
        assert torch.allclose(h_plain, h_shared, atol=1e-6)
        torch.manual_seed(0)
        pos = torch.full((rows,), p)
        for t in range(steps):
            tok = torch.randint(0, 200, (rows,))  # the rows diverge after the prompt
            a = plain.decode(tok, pos, p + t + 1)
            b = shared.decode(tok, pos, p + t + 1)
            assert torch.allclose(a, b, atol=1e-5), t
            pos = pos + 1
    assert shared.bytes < plain.bytes  # the prompt is held once


def test_candidates_on_a_shared_prompt_equal_separate_prompts(lm):
    ids = lm.build_prompt("Greedy twins.")
    s = GenerationSettings(do_sample=False, max_new_tokens=16)
    fork = lm.generate([ids], s, num_candidates=2)[0]  # one prompt: shared
    apart = lm.generate([ids, list(ids)], s)  # two prompts: a copy each
    assert [g.codes.tolist() for g in fork] == [apart[0][0].codes.tolist(),
                                                apart[1][0].codes.tolist()]


def test_shared_prompt_misuse_is_refused(lm):
    ids = torch.tensor(lm.build_prompt("x"))
    cache = RowKVCache(lm.model, 2, len(ids) + 4, prefix=len(ids))
    with pytest.raises(InputError, match="prefill_prefix"):
        cache.prefill(0, ids)
    with pytest.raises(InputError, match="must have"):
        cache.prefill_prefix(ids[:-1])
    with pytest.raises(InputError):
        RowKVCache(lm.model, 1, 8, prefix=8)
