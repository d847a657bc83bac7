"""Sibling quantized layers (q/k/v, gate/up) as one kernel call: the same outputs bit for bit,
int8 siblings smoothed jointly so they can fuse, and a fusion never outlives its layers."""

from __future__ import annotations

import pytest
import torch

from llasa.lm import GenerationSettings, qfuse, qkernel, tiny_lm
from llasa.lm.quant import Int8Linear

pytestmark = pytest.mark.skipif(qkernel.kernel() is None, reason="llasa's kernel did not build")


@pytest.fixture(scope="module", params=["int8", "int4"])
def qlm(request):
    return tiny_lm(codebook_size=256, seed=3).quantize(request.param)


def test_fused_calls_equal_the_separate_layers(qlm):
    torch.manual_seed(0)
    for layer in qlm.model.model.layers:
        x = torch.randn(5, layer.self_attn.q_proj.in_features)
        attn, mlp = layer.self_attn, layer.mlp
        f = qfuse.qkv(attn)
        assert f is not None and f.n == sum(m.out_features for m in
                                             (attn.q_proj, attn.k_proj, attn.v_proj))
        for got, m in zip(f(x), (attn.q_proj, attn.k_proj, attn.v_proj)):
            assert torch.equal(got, m(x))
        g, u = qfuse.gate_up(mlp)(x)
        assert torch.equal(g, mlp.gate_proj(x)) and torch.equal(u, mlp.up_proj(x))


@pytest.mark.parametrize("method", ["int8", "int4"])
def test_fused_layers_share_one_buffer_and_keep_their_weights(method):
    attn = tiny_lm(codebook_size=256, seed=3).quantize(method).model.model.layers[0].self_attn
    layers = (attn.q_proj, attn.k_proj, attn.v_proj)
    before = [m.state() for m in layers]
    f = qfuse.qkv(attn)
    assert qfuse.qkv(attn) is f  # built once
    assert attn.q_proj._qk.data_ptr() == f.packed.data_ptr()  # views, no second copy
    assert attn.k_proj._qk.data_ptr() > attn.q_proj._qk.data_ptr()
    for m, st in zip(layers, before):  # saving still reads each layer's own weights
        after = m.state()
        assert after.keys() == st.keys() and all(torch.equal(after[k], st[k]) for k in st)


def test_int8_siblings_are_smoothed_jointly():
    qlm = tiny_lm(codebook_size=256, seed=3).quantize("int8")
    for layer in qlm.model.model.layers:
        a = layer.self_attn
        assert a.q_proj.inv_smooth is not None
        assert torch.equal(a.q_proj.inv_smooth, a.k_proj.inv_smooth)
        assert torch.equal(a.q_proj.inv_smooth, a.v_proj.inv_smooth)
        assert torch.equal(layer.mlp.gate_proj.inv_smooth, layer.mlp.up_proj.inv_smooth)


def test_unfusable_siblings_run_apart_and_replaced_layers_refuse():
    torch.manual_seed(1)
    lins = [torch.nn.Linear(64, 32, bias=False) for _ in range(2)]
    smooth = [torch.rand(64) + 0.5, torch.rand(64) + 0.5]  # different smoothing: no fusion
    layers = [Int8Linear.from_linear(m, smooth=s) for m, s in zip(lins, smooth)]
    assert not qfuse.fusable(layers)
    mlp = torch.nn.Module()
    mlp.gate_proj, mlp.up_proj = (Int8Linear.from_linear(m, smooth=smooth[0]) for m in lins)
    f = qfuse.gate_up(mlp)
    assert f is not None
    mlp.up_proj = layers[1]  # replaced: the old fusion must not be used
    assert qfuse.gate_up(mlp) is None


def test_quantized_decoding_is_reproducible_on_the_fused_path(qlm):
    ids = qlm.build_prompt("Fused layers decode the same.")
    s = GenerationSettings(seed=5, max_new_tokens=24)
    a = qlm.generate([ids], s, num_candidates=3)[0]
    b = qlm.generate([ids], s, num_candidates=3)[0]
    assert [g.codes.tolist() for g in a] == [g.codes.tolist() for g in b]


# --- a whole decoder layer as four kernel calls with its glue fused in (qfuse.LayerPlan) ---

def test_layer_plan_calls_equal_the_torch_glue(qlm):
    torch.manual_seed(2)
    for layer in qlm.model.model.layers:
        plan = qfuse.layer_plan(layer)
        assert plan is not None
        attn, mlp = layer.self_attn, layer.mlp
        d = attn.q_proj.in_features
        x, r = torch.randn(5, d) * 3, torch.randn(5, d)
        ref = torch.cat(qfuse.qkv(attn)(layer.input_layernorm(x)), -1)
        got = plan.qkv(x, norm=plan.norm1)
        # the norm is computed in another order: an int8 code may round the other way
        assert torch.allclose(got, ref, atol=1e-3 * ref.abs().max()), (got - ref).abs().max()
        o_in = torch.randn(5, attn.o_proj.in_features)
        assert torch.equal(plan.o(o_in, res=r), r + attn.o_proj(o_in))
        g, u = qfuse.gate_up(mlp)(layer.post_attention_layernorm(x))
        got = plan.gate_up(x, norm=plan.norm2)
        assert torch.allclose(got, torch.cat([g, u], -1), atol=1e-3 * got.abs().max())
        gu = torch.randn(5, 2 * mlp.down_proj.in_features) * 4
        ref = r + mlp.down_proj(torch.nn.functional.silu(gu[:, :gu.shape[1] // 2]) *
                                gu[:, gu.shape[1] // 2:])
        got = plan.down(gu, glu=True, res=r)
        assert torch.allclose(got, ref, atol=1e-3 * ref.abs().max()), (got - ref).abs().max()


def test_planned_decoding_equals_the_layer_by_layer_path(qlm, monkeypatch):
    ids = qlm.build_prompt("Four calls a layer, the same tokens.")
    s = GenerationSettings(do_sample=False, max_new_tokens=24)
    planned = qlm.generate([ids], s, num_candidates=2)[0]
    monkeypatch.setattr(qfuse, "layer_plan", lambda layer: None)
    plain = qlm.generate([ids], s, num_candidates=2)[0]
    assert [g.codes.tolist() for g in planned] == [g.codes.tolist() for g in plain]


def test_layer_plan_needs_every_linear_on_the_kernel():
    lm = tiny_lm(codebook_size=256, seed=3).quantize("int4")
    ids = torch.tensor([lm.build_prompt("Plans keep the weights.")])
    with torch.no_grad():
        before = lm.model(ids).logits
    layer = lm.model.model.layers[0]
    assert qfuse.layer_plan(layer) is not None
    with torch.no_grad():  # building the plan (joint buffers, views) changed no weight
        assert torch.equal(before, lm.model(ids).logits)
    o = layer.self_attn.o_proj
    layer.self_attn.o_proj = torch.nn.Linear(o.in_features, o.out_features, bias=False)
    assert qfuse.layer_plan(layer) is None  # a replaced layer drops the plan
    layer.self_attn.o_proj = o
    assert qfuse.layer_plan(layer) is not None
    assert all(qfuse.layer_plan(m) is None for m in tiny_lm(codebook_size=256).model.model.layers)
