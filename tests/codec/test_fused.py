"""Fused decoder blocks equal transformers' Xcodec2DecoderLayer and round-trip to it."""

from __future__ import annotations

import copy

import pytest
import torch

from llasa._common.packing import PackedLinear, can_pack
from llasa.codec.fused import FusedDecoderLayer, fuse_decoder, is_fused, unfuse_decoder

pytestmark = pytest.mark.skipif(not can_pack(torch.device("cpu"), torch.float32),
                                reason="oneDNN packing unavailable on this CPU build")


@pytest.fixture(scope="module")
def decoder(tiny_codec):
    return copy.deepcopy(tiny_codec.net.acoustic_decoder).float().eval()


@pytest.mark.parametrize("packed", [True, False])
@pytest.mark.parametrize("dtype, tol", [(torch.float32, 2e-5), (torch.bfloat16, 6e-2)])
def test_fused_layer_matches_transformers_layer(decoder, dtype, tol, packed):
    if not can_pack(torch.device("cpu"), dtype):
        pytest.skip("no bf16 oneDNN on this CPU")
    dec = copy.deepcopy(decoder).to(dtype)
    if any(isinstance(m, (FusedDecoderLayer, PackedLinear)) for m in dec.modules()):
        unfuse_decoder(dec)
    layer = dec.layers[0]
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 37, layer.hidden_size, generator=g).to(dtype)  # b=2, t=37
    pos = dec.rotary_emb(x, torch.arange(dec.num_attention_heads)[None])
    with torch.inference_mode():
        ref = layer(x, position_embeddings=pos).float()
        got = FusedDecoderLayer(layer, packed=packed)(x, position_embeddings=pos).float()
    assert got.shape == ref.shape
    err = (got - ref).abs().max() / ref.abs().max()
    assert err < tol, err
    assert (ref - x.float()).abs().max() > 1e-2  # the block did change its input


@pytest.mark.parametrize("packed", [True, False])
def test_fuse_unfuse_round_trip(decoder, packed):
    dec = copy.deepcopy(decoder)
    if is_fused(dec):
        unfuse_decoder(dec)
    before = {k: v.clone() for k, v in dec.state_dict().items()}
    n_blocks = len(dec.layers)
    x = torch.randn(1, 20, dec.fc.in_features)  # the decoder starts with fc (2d → d)
    with torch.inference_mode():
        ref = dec(x)
        # blocks (+ fc + head when packed)
        assert fuse_decoder(dec, packed=packed) == n_blocks + 2 * packed and is_fused(dec)
        assert fuse_decoder(dec, packed=packed) == 0  # idempotent
        torch.testing.assert_close(dec(x), ref, atol=1e-5, rtol=1e-4)
    assert unfuse_decoder(dec) == n_blocks + 2 * packed and not is_fused(dec)
    after = dec.state_dict()
    assert sorted(after) == sorted(before)
    for k, v in before.items():
        assert torch.equal(after[k], v), k
    assert all(p.requires_grad for p in dec.parameters())


def test_rejects_biased_projections(decoder):
    dec = copy.deepcopy(decoder)
    if is_fused(dec):
        unfuse_decoder(dec)
    layer = dec.layers[0]
    layer.self_attn.q_proj.bias = torch.nn.Parameter(torch.zeros(layer.self_attn.q_proj.out_features))
    with pytest.raises(ValueError, match="bias"):
        FusedDecoderLayer(layer)
