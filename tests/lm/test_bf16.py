"""llasa's bf16 kernel (``llasa.lm.bf16``, CPUs with AVX512-BF16): the packing round-trips, the
product equals an fp32 product of the same bf16 values to bf16 rounding for every row count and
ragged shapes, and an LM optimized onto it decodes like the oneDNN-packed one."""

import pytest
import torch

from llasa.lm import GenerationSettings, bf16, tiny_lm

pytestmark = pytest.mark.skipif(not bf16.available(),
                                reason="no AVX512-BF16 here (or the kernel did not build)")


def test_pack_round_trips_and_pads_rows():
    w = torch.randn(37, 64).bfloat16()
    p = bf16.pack_bf16(w)
    assert p.shape == (3, 32, 16, 2) and p.dtype == torch.bfloat16
    assert torch.equal(bf16.unpack_bf16(p, 37), w)
    assert torch.count_nonzero(p[2, :, 5:]) == 0  # padded rows are zero


@pytest.mark.parametrize("n,k", [(16, 64), (37, 64), (48, 2048), (1000, 132)])
def test_product_matches_fp32_sums_to_bf16_rounding(n, k):
    g = torch.Generator().manual_seed(n * k)
    w = (torch.randn(n, k, generator=g) * 0.05).bfloat16()
    p = bf16.pack_bf16(w)
    for m in (1, 2, 3, 7, 8, 9, 17):  # several kernel row counts, one and two blocks per call
        x = torch.randn(m, k, generator=g).bfloat16()
        want = x.float() @ w.float().t()
        got = bf16.bf16_matmul(x, p, n)
        assert got.dtype == torch.bfloat16 and got.shape == (m, n)
        # one bf16 rounding of the result (2^-8 relative) plus fp32 reordering
        tol = want.abs() * 2 ** -8 + 1e-5 * k ** 0.5
        assert ((got.float() - want).abs() <= tol).all(), (m, (got.float() - want).abs().max())
    x3 = torch.randn(2, 3, k, generator=g).bfloat16()  # leading dims are kept
    assert bf16.bf16_matmul(x3, p, n).shape == (2, 3, n)


def test_linear_swaps_in_and_back_exactly():
    lin = torch.nn.Linear(64, 40, bias=False).bfloat16()
    layer = bf16.Bf16Linear(lin)
    x = torch.randn(4, 64).bfloat16()
    torch.testing.assert_close(layer(x).float(), lin(x).float(), atol=2e-2, rtol=2e-2)
    assert torch.equal(layer.unpack().weight, lin.weight)
    with pytest.raises(ValueError, match="bias"):
        bf16.Bf16Linear(torch.nn.Linear(64, 40).bfloat16())


def test_preference_follows_the_override(monkeypatch):
    monkeypatch.setenv("LLASA_BF16_KERNEL", "0")
    assert not bf16.preferred()
    monkeypatch.setenv("LLASA_BF16_KERNEL", "1")
    assert bf16.preferred()


def test_lm_on_the_kernel_decodes_like_onednn(monkeypatch):
    from llasa._common.packing import PackedLinear

    logits = {}
    for force in ("0", "1"):
        monkeypatch.setenv("LLASA_BF16_KERNEL", force)
        lm = tiny_lm(codebook_size=256, seed=4, dtype="bf16")
        ids = lm.build_prompt("Kernel weights.")
        before = {k: v.clone() for k, v in lm.model.state_dict().items()}
        lm.optimize()
        kinds = {type(m) for m in lm.model.model.layers.modules()}
        assert (bf16.Bf16Linear in kinds) == (force == "1")
        assert (PackedLinear in kinds) == (force == "0")
        assert (lm.head_rows().bf16 is not None) == (force == "1")
        with torch.no_grad():
            h = lm.model.model(torch.tensor([ids])).last_hidden_state[:, -1]
            logits[force] = lm.head_rows().logits(h)
        s = GenerationSettings(seed=1, max_new_tokens=24)
        a = [g.codes.tolist() for g in lm.generate([ids], s, num_candidates=3)[0]]
        assert a == [g.codes.tolist() for g in lm.generate([ids], s, num_candidates=3)[0]]
        assert all(0 <= c < 256 for row in a for c in row)
        lm.unoptimize()
        after = lm.model.state_dict()
        assert all(torch.equal(after[k], v) for k, v in before.items())
    ok = torch.isfinite(logits["0"])
    assert torch.equal(ok, torch.isfinite(logits["1"]))  # the same rows are allowed
    torch.testing.assert_close(logits["1"][ok], logits["0"][ok], atol=0.05, rtol=0.02)


def test_layer_plan_on_the_bf16_kernel_equals_the_torch_glue(monkeypatch):
    """A bf16 decoder layer as four kernel calls (qfuse.LayerPlan): RMSNorm, SwiGLU and the
    residual adds fused in, rounded where transformers' bf16 ops round."""
    from llasa.lm import qfuse

    monkeypatch.setenv("LLASA_BF16_KERNEL", "1")
    lm = tiny_lm(codebook_size=256, seed=4, dtype="bf16").optimize()
    torch.manual_seed(0)
    for layer in lm.model.model.layers:
        plan = qfuse.layer_plan(layer)
        assert plan is not None and plan.dtype == torch.bfloat16
        attn, mlp = layer.self_attn, layer.mlp
        d = attn.q_proj.in_features
        x, r = (torch.randn(3, d) * 2).bfloat16(), torch.randn(3, d).bfloat16()
        y = layer.input_layernorm(x)
        ref = torch.cat([attn.q_proj(y), attn.k_proj(y), attn.v_proj(y)], -1)
        torch.testing.assert_close(plan.qkv(x, norm=plan.norm1).float(), ref.float(),
                                   atol=2e-2, rtol=2e-2)
        o_in = torch.randn(3, attn.o_proj.in_features).bfloat16()
        assert torch.equal(plan.o(o_in, res=r), r + attn.o_proj(o_in))  # same rounding
        gu = (torch.randn(3, 2 * mlp.down_proj.in_features) * 3).bfloat16()
        g, u = gu.chunk(2, -1)
        ref = r + mlp.down_proj(mlp.act_fn(g) * u)
        torch.testing.assert_close(plan.down(gu, glu=True, res=r).float(), ref.float(),
                                   atol=2e-2, rtol=2e-2)


def test_planned_bf16_decoding_equals_the_layer_by_layer_path(monkeypatch):
    from llasa.lm import qfuse

    monkeypatch.setenv("LLASA_BF16_KERNEL", "1")
    lm = tiny_lm(codebook_size=256, seed=4, dtype="bf16").optimize()
    ids = lm.build_prompt("Four calls a layer.")
    with torch.no_grad():
        before = lm.model(torch.tensor([ids])).logits
    s = GenerationSettings(do_sample=False, max_new_tokens=24)
    planned = [g.codes.tolist() for g in lm.generate([ids], s, num_candidates=2)[0]]
    assert qfuse.layer_plan(lm.model.model.layers[0]) is not None
    with torch.no_grad():  # q/k/v and gate/up now read views of joint buffers: same weights
        assert torch.equal(before, lm.model(torch.tensor([ids])).logits)
    monkeypatch.setattr(qfuse, "layer_plan", lambda layer: None)
    assert planned == [g.codes.tolist() for g in lm.generate([ids], s, num_candidates=2)[0]]
