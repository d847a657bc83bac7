"""Fused decoder transformer blocks for fast CPU decoding (inference only).

The decoder's 12 transformer blocks hold ~80 % of a decode's FLOPs, all in linear layers over
the whole sequence ([t, 1024] x [1024, 3072 | 1024 | 4096] and back). :class:`FusedDecoderLayer`
runs one block with:

- q, k and v in one packed product (one read of the activations instead of three);
- SiLU fused into the first MLP product and both residual adds fused into the products that
  precede them (oneDNN post-ops: no separate passes over [t, 4096] / [t, 1024] tensors);
- no rotary embedding: X-codec2 rotates q and k of a head by the *same* angle (it indexes RoPE
  by head, not by time step, see the reference notes), an orthogonal map that leaves every
  q·k unchanged, so attention scores differ from the official ones only by rounding (~1e-7).

The products run on oneDNN-packed weights where that pays (AVX-512), else on MKL with plain
weights (``packed=False``; AVX2, where oneDNN's fp32 kernels lose to MKL's): there the residual
adds are fused as ``addmm``'s accumulate instead of a oneDNN post-op.

Outputs match the plain transformers layers to ~1e-5 in fp32 (tests/codec/test_fused.py,
tests/parity). :func:`fuse_decoder` swaps the blocks in place and packs the remaining linears;
:func:`unfuse_decoder` rebuilds plain, trainable transformers modules with the same weights.

Notation: ``b`` batch, ``t`` tokens, ``h`` heads, ``e`` head width, ``d`` = h·e model width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._common.packing import PackedLinear, pack_linears, pack_weight, unpack_linears


def _linear(x: torch.Tensor, packed: torch.Tensor, post: str = "none") -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(x, packed, None, post, [], "")


def _linear_add(x: torch.Tensor, packed: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
    """``residual + x @ W^T`` in one oneDNN call (binary post-op)."""
    return torch.ops.mkldnn._linear_pointwise.binary(x, residual, packed, None, "add")


def _attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Bidirectional attention, [b, h, t, e] each → [b, h, t, e].

    fp32: SDPA's flash kernel (the fastest here). bf16: the flash kernel runs no faster than in
    fp32 on this CPU, while two bf16 matmuls with a float32 softmax (transformers' eager
    recipe) take half the time.
    """
    if q.dtype != torch.bfloat16:
        return F.scaled_dot_product_attention(q, k, v)
    scores = torch.matmul(q, k.transpose(-1, -2)) * q.shape[-1] ** -0.5  # [b, h, t, t]
    return torch.matmul(scores.softmax(-1, dtype=torch.float32).to(q.dtype), v)


class FusedDecoderLayer(nn.Module):
    """Inference-only stand-in for ``Xcodec2DecoderLayer`` (same weights, packed).

    Args:
        layer: a transformers ``Xcodec2DecoderLayer`` (its linear layers have no bias).
        packed: oneDNN-packed weights (True) or plain ones through MKL (False).
    """

    def __init__(self, layer: nn.Module, packed: bool = True):
        super().__init__()
        att, mlp = layer.self_attn, layer.mlp
        if any(m.bias is not None for m in (att.q_proj, att.k_proj, att.v_proj, att.o_proj,
                                            mlp.fc1, mlp.fc2)):
            raise ValueError("FusedDecoderLayer expects bias-free projections (X-codec2 layout)")
        self.config, self.layer_idx = att.config, att.layer_idx
        self.num_heads = att.config.num_attention_heads
        self.head_dim = att.head_dim
        self.input_layernorm = layer.input_layernorm
        self.post_attention_layernorm = layer.post_attention_layernorm
        # Weights are plain attributes (not parameters): inference only, like PackedLinear.
        self.packed = bool(packed)
        prep = pack_weight if self.packed else (lambda w: w.detach().contiguous())
        qkv = torch.cat([att.q_proj.weight, att.k_proj.weight, att.v_proj.weight]).detach()
        self.qkv = prep(qkv)  # [3d, d]
        self.o = prep(att.o_proj.weight)
        self.fc1 = prep(mlp.fc1.weight)
        self.fc2 = prep(mlp.fc2.weight)
        self.activation = mlp.config.hidden_act

    def _mm(self, x: torch.Tensor, w: torch.Tensor, post: str = "none") -> torch.Tensor:
        if self.packed:
            return _linear(x, w, post)
        y = F.linear(x, w)
        return F.silu(y, inplace=True) if post == "swish" else y

    def _mm_add(self, x: torch.Tensor, w: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        if self.packed:
            return _linear_add(x, w, residual)
        d = residual.shape[-1]  # addmm accumulates into the residual: one pass, like the post-op
        return torch.addmm(residual.reshape(-1, d), x.reshape(-1, x.shape[-1]), w.t()).view(
            residual.shape)

    def forward(self, hidden_states: torch.Tensor, **_) -> torch.Tensor:
        """[b, t, d] → [b, t, d]; extra keyword arguments (position embeddings) are unused."""
        x = hidden_states
        b, t, d = x.shape
        qkv = self._mm(self.input_layernorm(x), self.qkv)  # [b, t, 3d]
        q, k, v = qkv.view(b, t, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        att = _attention(q, k, v)  # [b, h, t, e], bidirectional
        x = self._mm_add(att.transpose(1, 2).reshape(b, t, d), self.o, x)
        h = self.post_attention_layernorm(x)
        if self.activation == "silu":
            h = self._mm(h, self.fc1, "swish")  # SiLU as a oneDNN post-op / in place
        else:
            from transformers.activations import ACT2FN

            h = ACT2FN[self.activation](self._mm(h, self.fc1))
        return self._mm_add(h, self.fc2, x)

    def unfuse(self) -> nn.Module:
        """A transformers ``Xcodec2DecoderLayer`` with the same weights (dense, trainable)."""
        from transformers.models.xcodec2.modeling_xcodec2 import Xcodec2DecoderLayer

        qkv = self.qkv.to_dense()
        ref = self.input_layernorm.weight
        layer = Xcodec2DecoderLayer(self.config, self.layer_idx).to(device=ref.device,
                                                                    dtype=qkv.dtype)
        att, mlp = layer.self_attn, layer.mlp
        q, k, v = qkv.split([att.q_proj.out_features, att.k_proj.out_features,
                             att.v_proj.out_features])
        with torch.no_grad():
            for lin, w in ((att.q_proj, q), (att.k_proj, k), (att.v_proj, v),
                           (att.o_proj, self.o.to_dense()), (mlp.fc1, self.fc1.to_dense()),
                           (mlp.fc2, self.fc2.to_dense())):
                lin.weight.copy_(w)
        layer.input_layernorm = self.input_layernorm
        layer.post_attention_layernorm = self.post_attention_layernorm
        return layer

    def extra_repr(self) -> str:
        kind = "packed" if self.packed else "plain (MKL)"
        return f"heads={self.num_heads}, head_dim={self.head_dim}, fused qkv, {kind}"


def fuse_decoder(decoder: nn.Module, packed: bool = True) -> int:
    """Fuse the blocks of a transformers ``Xcodec2Decoder`` in place; with ``packed``, pack
    them and its other linears for oneDNN.

    Returns:
        number of modules replaced (blocks + linear layers).
    """
    n = 0
    for i, layer in enumerate(decoder.layers):
        if not isinstance(layer, FusedDecoderLayer):
            decoder.layers[i] = FusedDecoderLayer(layer, packed=packed)
            n += 1
    return n + (pack_linears(decoder) if packed else 0)


def unfuse_decoder(decoder: nn.Module) -> int:
    """Undo :func:`fuse_decoder`. Returns the number of modules restored."""
    n = 0
    for i, layer in enumerate(decoder.layers):
        if isinstance(layer, FusedDecoderLayer):
            decoder.layers[i] = layer.unfuse()
            n += 1
    return n + unpack_linears(decoder)


def is_fused(decoder: nn.Module) -> bool:
    """True if any block or linear of ``decoder`` is fused/packed."""
    return any(isinstance(m, (FusedDecoderLayer, PackedLinear)) for m in decoder.modules())
