"""oneDNN-packed linear layers for fast CPU inference (shared by the LM and the codec decoder).

At batch 1 every LM decoding step is a chain of matrix-vector products, bound by how fast weights
stream from memory. oneDNN reads weights reordered into its blocked layout (what inductor's
"freezing" does) 1.2-2.5x faster than ``F.linear`` on plain row-major weights on this CPU, with
bit-identical bf16 results. For the codec decoder's large fp32 products ([500, 1024] x
[1024, 4096]) oneDNN's blocked kernels are ~2.3x faster than ``F.linear`` (MKL) on this CPU,
equal to ~1e-5. :func:`pack_linears` swaps the ``nn.Linear`` modules of the decoder
layers for :class:`PackedLinear` in place (no extra memory once done); :func:`unpack_linears`
restores trainable ``nn.Linear`` modules with the same weights.
"""

from __future__ import annotations

import torch
from torch import nn

from .cpu import cpu_info, pack_pays


def can_pack(device: torch.device, dtype: torch.dtype) -> bool:
    """True when oneDNN packing is available for this device/dtype (CPU, fp32 or bf16; bf16 only
    where the CPU computes it natively: oneDNN would otherwise emulate it)."""
    if torch.device(device).type != "cpu" or not torch.backends.mkldnn.is_available():
        return False
    if not hasattr(torch.ops.mkldnn, "_reorder_linear_weight"):
        return False
    if dtype == torch.bfloat16:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()) and cpu_info().native_bf16
    return dtype == torch.float32


def should_pack(device: torch.device, dtype: torch.dtype, rows: str = "decode") -> bool:
    """:func:`can_pack` and packing is faster on this CPU for this workload
    (:func:`llasa._common.cpu.pack_pays`)."""
    return can_pack(device, dtype) and pack_pays(dtype, rows)


def decode_batch_hint(dtype: torch.dtype) -> int:
    """oneDNN layout hint for token-by-token decoding (1-8 rows per call).

    Measured with bench/lm.py's shapes on this CPU: fp32 weights packed for 8 rows make a
    batch-1 step ~15 % and an 8-row step ~20 % faster than packing for 1 row; in bf16 the
    1-row layout is as fast or faster.
    """
    return 8 if dtype == torch.float32 else 1


def pack_weight(weight: torch.Tensor, batch_hint: int = 1) -> torch.Tensor:
    """[out, in] weight → oneDNN blocked tensor for :func:`packed_linear`."""
    return torch.ops.mkldnn._reorder_linear_weight(weight.detach().contiguous(), batch_hint)


def packed_linear(x: torch.Tensor, packed: torch.Tensor,
                  bias: torch.Tensor | None = None) -> torch.Tensor:
    """``F.linear`` with a packed weight. x: [..., in] → [..., out]."""
    return torch.ops.mkldnn._linear_pointwise(x, packed, bias, "none", [], "")


class PackedLinear(nn.Module):
    """Inference-only stand-in for ``nn.Linear`` holding a oneDNN-packed weight."""

    def __init__(self, linear: nn.Linear, batch_hint: int = 1):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.packed = pack_weight(linear.weight, batch_hint)  # plain attribute: not a parameter
        self.bias = None if linear.bias is None else nn.Parameter(
            linear.bias.detach(), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return packed_linear(x, self.packed, self.bias)

    def unpack(self) -> nn.Linear:
        """An ``nn.Linear`` with the same weight (dense, trainable)."""
        w = self.packed.to_dense()
        lin = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None,
                        device=w.device, dtype=w.dtype)
        with torch.no_grad():
            lin.weight.copy_(w)
            if self.bias is not None:
                lin.bias.copy_(self.bias)
        return lin

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, packed"


def pack_linears(root: nn.Module, batch_hint: int = 1) -> int:
    """Replace every ``nn.Linear`` under ``root`` by :class:`PackedLinear`. Returns the count.

    ``batch_hint`` (rows per call oneDNN should expect) picks the blocked layout; any batch
    size still works with any hint.
    """
    return _swap(root, nn.Linear, lambda m: PackedLinear(m, batch_hint))


def unpack_linears(root: nn.Module) -> int:
    """Undo :func:`pack_linears`. Returns the count."""
    return _swap(root, PackedLinear, lambda m: m.unpack())


def _swap(root: nn.Module, kind, make) -> int:
    n = 0
    for parent in list(root.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is kind:
                setattr(parent, name, make(child))
                n += 1
    return n
