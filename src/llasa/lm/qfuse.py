"""Sibling quantized layers that read the same input, run as one kernel call.

A Llama decoder layer feeds one normalised input to ``q_proj``, ``k_proj`` and ``v_proj``, and
another to ``gate_proj`` and ``up_proj``. On llasa's kernel (:mod:`llasa.lm.qkernel`) each call
quantizes its input and forks the thread pool once, so a 1B decode step made 113 calls where 65
do the same work. :func:`fused` concatenates the siblings' packed weight blocks once (the layers
then hold views into the joint buffer: no extra memory) and returns a callable that computes all
of their outputs in one call. Every output row is computed on its own, so the results are
bit-identical to the separate calls (tested).

int8 layers fuse only when they share one smoothing vector: :func:`llasa.lm.quant.quantize_model`
smooths siblings jointly (SmoothQuant's treatment of layers behind one norm).
"""

from __future__ import annotations

import torch
from torch import nn

from . import qkernel
from .quant import SIBLING_LINEARS  # the groups quantize_model smooths jointly


def _joint(layers: list[nn.Module], attr: str) -> torch.Tensor:
    """The layers' packed blocks (``attr``) concatenated into one buffer; each layer keeps
    working on its view of it, so the joint call costs no extra memory."""
    joint = torch.cat([getattr(m, attr) for m in layers]).contiguous()
    start = 0
    for m in layers:
        nb = getattr(m, attr).shape[0]
        setattr(m, attr, joint[start:start + nb])
        start += nb
    return joint


def _siblings(parent: nn.Module, names: tuple[str, ...], attr: str, make):
    """``make(layers)`` for ``parent``'s sibling layers ``names``, built once and kept in
    ``attr`` (a plain attribute: not a submodule, not in state dicts) for as long as those very
    layers are there (quantize() and optimize() replace them)."""
    layers = [getattr(parent, n, None) for n in names]
    got = parent.__dict__.get(attr)
    if got is not None and all(a is b for a, b in zip(got[0], layers)):
        return got[1]
    f = make(layers) if all(m is not None for m in layers) else None
    parent.__dict__[attr] = (layers, f)
    return f


class FusedQuant:
    """Sibling :class:`~llasa.lm.quant.Int4Linear` / ``Int8Linear`` layers as one call:
    ``x`` [..., in] → a list of their outputs, in order."""

    def __init__(self, layers: list[nn.Module]):
        first = layers[0]
        self.bits = 4 if first.method == "int4" else 8
        self.sizes = [m.out_features for m in layers]
        self.n = sum(self.sizes)
        self.packed = _joint(layers, "_qk")
        self.scale = torch.cat([m.scale for m in layers]) if self.bits == 8 else None
        self.smooth = first.inv_smooth if self.bits == 8 else None
        self.bias = (torch.cat([m.bias for m in layers]) if first.bias is not None else None)

    def __call__(self, x: torch.Tensor) -> list[torch.Tensor]:
        shape = x.shape
        x2 = x.reshape(-1, shape[-1])
        if self.bits == 4:
            y = qkernel.int4_matmul(x2, self.packed, self.n)
        else:
            y = qkernel.int8_matmul(x2, self.packed, self.scale, self.n, self.smooth)
        if self.bias is not None:
            y = y + self.bias
        y = y.to(x.dtype).reshape(*shape[:-1], self.n)
        return list(y.split(self.sizes, -1))


def fusable(layers: list) -> bool:
    """Whether sibling layers can run as one call (same kernel, method, input, smoothing)."""
    first = layers[0]
    method = getattr(first, "method", None)
    if method not in ("int4", "int8"):
        return False
    for m in layers:
        if getattr(m, "method", None) != method or getattr(m, "_qk", None) is None:
            return False
        if m.in_features != first.in_features or m.out_features % qkernel.ROWS:
            return False  # a partial 16-row block would shift the next layer's rows
        if (m.bias is None) != (first.bias is None):
            return False
        if method == "int8":
            a, b = m.inv_smooth, first.inv_smooth
            if (a is None) != (b is None) or (a is not None and not torch.equal(a, b)):
                return False
    return True


def fused(parent: nn.Module, names: tuple[str, ...], attr: str) -> FusedQuant | None:
    """The fused call of ``parent``'s sibling layers ``names`` (built once, kept in ``attr``),
    or None where they cannot fuse."""
    return _siblings(parent, names, attr, lambda ls: FusedQuant(ls) if fusable(ls) else None)


def qkv(attn: nn.Module) -> FusedQuant | None:
    return fused(attn, SIBLING_LINEARS[0], "llasa_qkv")


def gate_up(mlp: nn.Module) -> FusedQuant | None:
    return fused(mlp, SIBLING_LINEARS[1], "llasa_gate_up")


class _Linear:
    """One kernel call's weights: fused siblings, or a single Int4Linear / Int8Linear /
    Bf16Linear (``bits`` 16: llasa's bf16 kernel)."""

    def __init__(self, m):
        if isinstance(m, _JointBf16) or getattr(m, "packed", None) is not None and \
                type(m).__name__ == "Bf16Linear":
            self.packed, self.n, self.bits = m.packed, (m.n if isinstance(m, _JointBf16)
                                                        else m.out_features), 16
            self.scale = self.smooth = None
        elif isinstance(m, FusedQuant):
            self.packed, self.scale, self.n, self.bits, self.smooth = \
                m.packed, m.scale, m.n, m.bits, m.smooth
        else:
            self.packed, self.n = m._qk, m.out_features
            self.bits = 4 if m.method == "int4" else 8
            self.scale = m.scale if self.bits == 8 else None
            self.smooth = m.inv_smooth if self.bits == 8 else None

    def __call__(self, x, norm=None, glu: bool = False, res=None) -> torch.Tensor:
        w, eps = (norm.weight, norm.variance_epsilon) if norm is not None else (None, 0.0)
        if self.bits == 16:
            e = qkernel._EMPTY
            return qkernel.kernel().bf16_linear_ex(
                x.contiguous(), w if w is not None else e, eps, glu, self.packed, self.n,
                res if res is not None else e)
        return qkernel.linear_ex(x, self.packed, self.scale, self.n, self.bits, self.smooth,
                                 w, eps, glu, res)


class _JointBf16:
    """Sibling Bf16Linear layers' packed blocks in one buffer (the layers keep views into it)."""

    def __init__(self, layers: list[nn.Module]):
        self.sizes = [m.out_features for m in layers]
        self.n = sum(self.sizes)
        self.packed = _joint(layers, "packed")


class LayerPlan:
    """A decoder layer whose four linear calls (q/k/v, o, gate/up, down) all run on llasa's
    kernel (4/8-bit, or bf16 where that kernel is preferred), each with the glue around it
    fused in: the RMSNorms into q/k/v's and gate/up's input, silu(gate) * up into down's, the
    residual adds into o's and down's outputs. A 1B decode step had ~20 small torch ops per
    layer between the kernel calls, a few µs of dispatch and thread wake-up each (more in
    bf16)."""

    def __init__(self, layer, qkv_f, gate_up_f, dtype: torch.dtype):
        self.dtype = dtype
        self.qkv, self.gate_up = _Linear(qkv_f), _Linear(gate_up_f)
        self.o, self.down = _Linear(layer.self_attn.o_proj), _Linear(layer.mlp.down_proj)
        self.sizes = qkv_f.sizes
        self.norm1, self.norm2 = layer.input_layernorm, layer.post_attention_layernorm


def _rmsnorm(m, dtype: torch.dtype) -> bool:
    w = getattr(m, "weight", None)
    return (type(m).__name__.endswith("RMSNorm") and hasattr(m, "variance_epsilon")
            and w is not None and w.dtype == dtype and w.is_contiguous()
            and not getattr(m, "_forward_hooks", None))


def _bf16_siblings(parent, names, attr):
    def make(layers):
        ok = all(type(m).__name__ == "Bf16Linear" and m.out_features % qkernel.ROWS == 0
                 and m.in_features == layers[0].in_features for m in layers)
        return _JointBf16(layers) if ok else None

    return _siblings(parent, names, attr, make)


def layer_plan(layer) -> LayerPlan | None:
    """:class:`LayerPlan` for a Llama decoder layer (built once and kept on it), or None where
    one of its linears is not on the kernel, has a bias, or its norms/activation differ."""
    attn, mlp = layer.self_attn, layer.mlp
    o, down = attn.o_proj, mlp.down_proj
    bf = type(o).__name__ == "Bf16Linear"
    if bf:
        qkv_f = _bf16_siblings(attn, SIBLING_LINEARS[0], "llasa_qkv_bf16")
        gate_up_f = _bf16_siblings(mlp, SIBLING_LINEARS[1], "llasa_gate_up_bf16")
    else:
        qkv_f, gate_up_f = qkv(attn), gate_up(mlp)
    parts = (qkv_f, gate_up_f, o, down, layer.input_layernorm, layer.post_attention_layernorm)
    got = layer.__dict__.get("llasa_plan")
    if got is not None and all(a is b for a, b in zip(got[0], parts)):
        return got[1]
    plan = None
    dtype = torch.bfloat16 if bf else torch.float32
    if bf:
        linears_ok = type(down).__name__ == "Bf16Linear"
    else:
        linears_ok = all(getattr(m, "method", None) in ("int4", "int8")
                         and getattr(m, "_qk", None) is not None and m.bias is None
                         for m in (o, down))
        linears_ok = linears_ok and qkv_f is not None and gate_up_f is not None and \
            qkv_f.bias is None and gate_up_f.bias is None
    if (linears_ok and qkv_f is not None and gate_up_f is not None
            and len(gate_up_f.sizes) == 2 and gate_up_f.sizes[0] == gate_up_f.sizes[1]
            and type(mlp.act_fn).__name__ in ("SiLU", "SiLUActivation")
            and _rmsnorm(parts[4], dtype) and _rmsnorm(parts[5], dtype)):
        plan = LayerPlan(layer, qkv_f, gate_up_f, dtype)
    layer.__dict__["llasa_plan"] = (parts, plan)
    return plan
