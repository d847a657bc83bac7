"""8-bit and 4-bit weights for CPU decoding, on torch's own quantized kernels.

Batch-1 decoding reads every weight once per token, so its speed is bytes per token over memory
bandwidth. Two engines were measured for it against llama.cpp (``bench/lm.py``, docs/lm.md):

- ``int8``: symmetric per-output-channel int8 weights through fbgemm's dynamic-quantized linear
  (activations quantized per call, int32 accumulation, AVX2 and AVX-512/VNNI kernels). It stays
  at the memory-bandwidth limit for 1-8 rows, so best-of-N batches cost little more than one.
- ``int4``: 4-bit weights in groups of :data:`INT4_GROUP` along the input with a scale and an
  offset per group (the layout of llama.cpp's Q4 family) through
  ``aten._weight_int4pack_mm_for_cpu``, whose vectorised path takes bf16 activations.

Both keep llasa's decoding loop, so the prompt ids, the speech-only output head (its allowed
rows are quantized on their own: 19 % fewer bytes per token than the full vocabulary) and the
sampling are those of the full-precision path, and a seed reproduces its output. Norms,
attention and the embedding lookup stay in the model's float dtype.

:func:`quantize_model` swaps the decoder's ``nn.Linear`` layers in place; :func:`quantized_state`
and :func:`load_quantized` store and rebuild them as integers (``llasa export --quant``).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from .._common.cpu import cpu_info
from .._common.errors import InputError, ModelLoadError

QUANTS = ("int8", "int4")
QUANT_KEY = "llasa_quant"  # config.json: {"method": "int8" | "int4", "group_size": G}
INT4_GROUP = 32


def check_quant(method) -> str | None:
    """``None``/"none" → None; a known method name → itself; else an InputError."""
    if method is None or method in ("none", "", False):
        return None
    if method not in QUANTS:
        raise InputError(f"quant must be one of {', '.join(QUANTS)} (or none), got {method!r}")
    return method


class Int8Linear(nn.Module):
    """Inference-only ``nn.Linear`` with int8 weights (fbgemm dynamic quantization)."""

    method = "int8"

    def __init__(self, qweight: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        self.out_features, self.in_features = qweight.shape
        self.qweight, self.scale = qweight.contiguous(), scale.float().contiguous()
        self.bias = bias
        with warnings.catch_warnings():  # torch marks quantized tensors deprecated, still 2.13's
            warnings.simplefilter("ignore", UserWarning)
            qw = torch._make_per_channel_quantized_tensor(
                self.qweight, self.scale.double(), torch.zeros_like(self.scale, dtype=torch.long),
                0)
        self._packed = torch.ops.quantized.linear_prepack(qw, None if bias is None
                                                          else bias.float())
        # Without VNNI, fbgemm's u8*s8 pair sums can saturate int16: use 7-bit activations.
        flags = cpu_info(with_torch=False).flags
        self._reduce = not ({"avx512_vnni", "avx_vnni"} & flags)

    @classmethod
    def from_linear(cls, lin: nn.Linear) -> "Int8Linear":
        return cls(*int8_weights(lin.weight), _bias(lin))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.ops.quantized.linear_dynamic(x.float(), self._packed, self._reduce)
        return y.to(x.dtype)

    def state(self) -> dict[str, torch.Tensor]:
        return {"qweight": self.qweight, "scale": self.scale}

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8"


class Int4Linear(nn.Module):
    """Inference-only ``nn.Linear`` with 4-bit weights, one scale and offset per group."""

    method = "int4"

    def __init__(self, q: torch.Tensor, scale_zero: torch.Tensor, bias: torch.Tensor | None,
                 group_size: int = INT4_GROUP):
        super().__init__()
        self.out_features, self.in_features = q.shape
        if self.in_features % group_size:
            raise ModelLoadError(f"int4 needs in_features divisible by {group_size}, "
                                 f"got {tuple(q.shape)}")
        self.group_size, self.bias = group_size, bias
        self.q, self.scale_zero = q.to(torch.uint8).contiguous(), scale_zero.float().contiguous()
        pad = -self.out_features % 16  # the kernel packs rows in 16s: pad with zero rows
        qp = torch.cat([q, q.new_full((pad, self.in_features), 8)]) if pad else q
        sz = (torch.cat([self.scale_zero, self.scale_zero.new_zeros(
            self.scale_zero.shape[0], pad, 2)], 1) if pad else self.scale_zero)
        self._packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(qp.to(torch.int32), 2)
        self._sz = sz.bfloat16().contiguous()

    @classmethod
    def from_linear(cls, lin: nn.Linear, group_size: int = INT4_GROUP) -> "Int4Linear":
        return cls(*int4_weights(lin.weight, group_size), _bias(lin), group_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        y = torch.ops.aten._weight_int4pack_mm_for_cpu(
            x.reshape(-1, shape[-1]).bfloat16(), self._packed, self.group_size, self._sz)
        y = y[:, :self.out_features].to(x.dtype).reshape(*shape[:-1], self.out_features)
        return y if self.bias is None else y + self.bias.to(x.dtype)

    def state(self) -> dict[str, torch.Tensor]:
        return {"q": self.q, "scale_zero": self.scale_zero}

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"int4 g{self.group_size}")


def _bias(lin: nn.Linear):
    return None if lin.bias is None else lin.bias.detach().float()


def int8_weights(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[out, in] float → (int8 [out, in], fp32 scale [out]), symmetric per output row."""
    w = w.detach().float()
    scale = (w.abs().amax(1) / 127).clamp(min=1e-12)
    return torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8), scale


def int4_weights(w: torch.Tensor, group_size: int = INT4_GROUP
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """[out, in] float → (uint8 codes 0..15 [out, in], fp32 [in/G, out, 2] scale and offset).

    A group's weights map to ``(code - 8) * scale + offset`` with min/max rounding, the layout
    ``_weight_int4pack_mm_for_cpu`` reads.
    """
    w = w.detach().float()
    o, i = w.shape
    g = w.reshape(o, i // group_size, group_size)
    lo, hi = g.amin(-1), g.amax(-1)
    scale = ((hi - lo) / 15).clamp(min=1e-12)
    q = torch.round((g - lo[..., None]) / scale[..., None]).clamp(0, 15).to(torch.uint8)
    offset = lo + 8 * scale
    return q.reshape(o, i), torch.stack([scale, offset], -1).transpose(0, 1).contiguous()


def dequantize(layer: nn.Module) -> torch.Tensor:
    """The float weights a quantized layer computes with ([out, in] fp32)."""
    if isinstance(layer, Int8Linear):
        return layer.qweight.float() * layer.scale[:, None]
    if isinstance(layer, Int4Linear):
        o, i, g = layer.out_features, layer.in_features, layer.group_size
        sz = layer.scale_zero.transpose(0, 1)  # [out, in/G, 2]
        q = layer.q.float().reshape(o, i // g, g)
        return ((q - 8) * sz[..., :1] + sz[..., 1:]).reshape(o, i)
    raise TypeError(f"not a quantized layer: {type(layer).__name__}")


def quant_config(method: str) -> dict:
    """What ``config.json`` records under :data:`QUANT_KEY` for ``method``."""
    return {"method": method, **({"group_size": INT4_GROUP} if method == "int4" else {})}


def quantize_weight(method: str, weight: torch.Tensor) -> nn.Module:
    """A quantized layer computing ``x @ weight.T`` (for rows that are not an ``nn.Linear``)."""
    lin = nn.Linear(weight.shape[1], weight.shape[0], bias=False, device="meta")
    lin.weight = nn.Parameter(weight.detach(), requires_grad=False)
    return make_quant_linear(method, lin)


def make_quant_linear(method: str, lin: nn.Linear) -> nn.Module:
    return Int8Linear.from_linear(lin) if method == "int8" else Int4Linear.from_linear(lin)


def quantize_model(layers: nn.Module, method: str) -> int:
    """Replace every ``nn.Linear`` under ``layers`` by its quantized stand-in. Returns the count."""
    n = 0
    for parent in list(layers.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Linear:
                setattr(parent, name, make_quant_linear(method, child))
                n += 1
    return n


def quantized_state(layers: nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    """The integer tensors of every quantized layer under ``layers``, keyed by module path."""
    out = {}
    for name, m in layers.named_modules():
        if isinstance(m, (Int8Linear, Int4Linear)):
            for k, v in m.state().items():
                out[f"{prefix}{name}.{k}"] = v
            if m.bias is not None:
                out[f"{prefix}{name}.bias"] = m.bias
    return out


def load_quantized(layers: nn.Module, prefix: str, tensors: dict, method: str,
                   group_size: int = INT4_GROUP) -> int:
    """Swap the ``nn.Linear`` layers under ``layers`` for quantized ones built from ``tensors``
    (as :func:`quantized_state` wrote them). Returns the count."""
    n = 0
    for parent_name, parent in list(layers.named_modules()):
        for name, child in list(parent.named_children()):
            if type(child) is not nn.Linear:
                continue
            key = f"{prefix}{parent_name + '.' if parent_name else ''}{name}"
            bias = tensors.get(f"{key}.bias")
            try:
                if method == "int8":
                    layer = Int8Linear(tensors[f"{key}.qweight"], tensors[f"{key}.scale"], bias)
                else:
                    layer = Int4Linear(tensors[f"{key}.q"], tensors[f"{key}.scale_zero"], bias,
                                       group_size)
            except KeyError as e:
                raise ModelLoadError(f"quantized checkpoint lacks {e.args[0]}") from None
            setattr(parent, name, layer)
            n += 1
    return n


def quantized_linear_error(lin: nn.Linear, method: str) -> float:
    """Relative Frobenius error of a layer's quantized weights (a quick sanity figure)."""
    q = make_quant_linear(method, lin)
    w = lin.weight.detach().float()
    return float(torch.linalg.norm(dequantize(q) - w) / torch.linalg.norm(w).clamp(min=1e-12))


__all__ = ["QUANTS", "QUANT_KEY", "Int8Linear", "Int4Linear", "check_quant", "quantize_model",
           "quant_config", "quantize_weight",
           "quantized_state", "load_quantized", "dequantize", "int8_weights", "int4_weights",
           "quantized_linear_error"]
