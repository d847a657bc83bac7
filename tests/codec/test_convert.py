"""Conversion pieces that need no official package: weight norm folding, the q/k permutation."""

import torch

from llasa.codec import convert


def test_fold_weight_norm_equals_torch_weight_norm():
    conv = torch.nn.Conv1d(6, 5, 3)
    torch.nn.utils.parametrizations.weight_norm(conv)
    with torch.no_grad():
        conv.parametrizations.weight.original0.mul_(1.7)
    sd = conv.state_dict()
    legacy = {"c.weight_g": sd["parametrizations.weight.original0"],
              "c.weight_v": sd["parametrizations.weight.original1"], "c.bias": sd["bias"]}
    folded = convert._fold_weight_norm(legacy)
    torch.testing.assert_close(folded["c.weight"], conv.weight.detach())
    assert set(folded) == {"c.weight", "c.bias"}


def test_c_attn_split_keeps_attention_scores_and_rope_pairs():
    heads, d, dim = 4, 16, 64
    w = torch.randn(3 * heads * d, dim)
    q, k, v = convert._split_c_attn(w, heads)
    x = torch.randn(10, dim)
    fq, fk, fv = (x @ w.T).chunk(3, dim=-1)
    assert torch.equal(v, w[2 * heads * d:])
    # interleaved pair (2i, 2i+1) of the original becomes (i, i + d/2) after the permutation
    qh, fqh = (x @ q.T).view(10, heads, d), fq.view(10, heads, d)
    assert torch.equal(qh[..., : d // 2], fqh[..., 0::2])
    assert torch.equal(qh[..., d // 2:], fqh[..., 1::2])
    s_new = torch.einsum("thd,shd->hts", qh, (x @ k.T).view(10, heads, d))
    s_old = torch.einsum("thd,shd->hts", fqh, fk.view(10, heads, d))
    torch.testing.assert_close(s_new, s_old, rtol=1e-5, atol=1e-4)


def test_is_original():
    assert convert.is_original(["generator.head.out.weight"])
    assert not convert.is_original(["acoustic_decoder.head.linear.weight"])
