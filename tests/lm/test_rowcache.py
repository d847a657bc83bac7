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


# --- the fused CPU decode attention (csrc/attention.h) against the torch ops it replaces ---

def _ext():
    from llasa.lm import qkernel
    ext = qkernel.kernel()
    if ext is None:
        pytest.skip("llasa's CPU kernel does not build or run here (no AVX2 or no compiler)")
    return ext


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("prefix", [0, 37])
def test_fused_decode_attention_equals_torch(dtype, prefix):
    """The 1B layout (32 query heads on 8 KV heads of 64), rows at different positions, strided
    q/k/v as the fused projection returns them, an optional shared prefix, RoPE in the kernel
    (in bf16 with transformers' rounding steps)."""
    from llasa.lm import rowcache
    ext = _ext()
    g = torch.Generator().manual_seed(1)
    n, H, h, e, T = 3, 32, 8, 64, 50
    own = torch.tensor([0, 17, 41])
    kc = torch.randn(n + 1, h, T, e, generator=g).to(dtype)
    vc = torch.randn(n + 1, h, T, e, generator=g).to(dtype)
    kp = torch.randn(1, h, prefix, e, generator=g).to(dtype)
    vp = torch.randn(1, h, prefix, e, generator=g).to(dtype)
    qkv = torch.randn(n, (H + 2 * h) * e, generator=g).to(dtype)  # one fused projection
    q, k, v = qkv.split([H * e, h * e, h * e], 1)
    ang = (prefix + own)[:, None].float() * torch.linspace(0.01, 1.0, e // 2)[None]
    cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)  # [n, e]
    cos, sin = cos.to(dtype), sin.to(dtype)  # as the rotary embedding gives them
    kc2, vc2 = kc.clone(), vc.clone()
    out = ext.decode_attention(q, k, v, kc2, vc2, kp, vp, own, cos, sin, H, 0.125)
    # reference: torch RoPE, the cache write, then the SDPA path
    c, s = cos[:, None], sin[:, None]
    q4 = rowcache._rope(q.reshape(n, 1, H, e).transpose(1, 2), c, s)
    k4 = rowcache._rope(k.reshape(n, 1, h, e).transpose(1, 2), c, s)
    ref_k, ref_v = kc.clone(), vc.clone()
    ref_k[torch.arange(n), :, own] = k4[:, :, 0]
    ref_v[torch.arange(n), :, own] = v.reshape(n, h, e)
    t = int(own.max()) + 1
    mask = (torch.arange(t)[None] <= own[:, None])[:, None, None]
    if prefix:
        ref = rowcache._shared_decode_attention(q4, kp, vp, ref_k[:n, :, :t], ref_v[:n, :, :t],
                                                mask, 0.125)
    else:
        ref = rowcache._decode_attention(q4, ref_k[:n, :, :t], ref_v[:n, :, :t], mask, 0.125)
    tol = 1e-5 if dtype == torch.float32 else 2e-2
    if dtype == torch.bfloat16:  # RoPE rounds where transformers' bf16 ops round
        assert torch.equal(kc2, ref_k)
    assert torch.allclose(kc2.float(), ref_k.float(), atol=1e-5)  # the new keys, rotated
    assert torch.equal(vc2, ref_v)
    assert out.shape == (n, H, e)
    assert torch.allclose(out.float(), ref[:, :, 0].float(), atol=tol)


@pytest.mark.parametrize("prefix", [False, True])
def test_fused_decode_steps_equal_the_torch_path(lm, prefix, monkeypatch):
    from llasa.lm import rowcache
    _ext()
    ids = torch.tensor(lm.build_prompt("Fused or not, the same step."))
    p, rows, steps = len(ids), 3, 6

    def run(fused):
        monkeypatch.setattr(rowcache, "_FUSED", [fused])
        cache = RowKVCache(lm.model, rows, p + steps + 1, prefix=p if prefix else 0)
        with torch.inference_mode():
            if prefix:
                cache.prefill_prefix(ids)
            else:
                for r in range(rows):
                    cache.prefill(r, ids)
            torch.manual_seed(0)
            pos, out = torch.full((rows,), p), []
            for t in range(steps):
                out.append(cache.decode(torch.randint(0, 200, (rows,)), pos, p + t + 1))
                pos = pos + 1
        return torch.stack(out)

    assert torch.allclose(run(True), run(False), atol=1e-5)


def test_fused_decode_attention_refuses_bad_positions():
    ext = _ext()
    kc = torch.zeros(1, 1, 4, 8)
    x = torch.zeros(1, 8)
    with pytest.raises(RuntimeError, match="outside the slot"):
        ext.decode_attention(x, x, x, kc, kc.clone(), kc[:, :, :0], kc[:, :, :0],
                             torch.tensor([4]), x[:0], x[:0], 1, 1.0)
