"""bf16 linear layers on llasa's own kernel (``csrc/qlinear.cpp``: ``bf16_matmul``), for CPUs with
AVX512-BF16 and no AMX.

On such CPUs (measured on an AMD EPYC, Zen 4) oneDNN's bf16 product streams one-row decoding
shapes at about half the read bandwidth, so bf16 decoding ran at 0.72x llama.cpp's F16
(docs/lm.md). The kernel packs the weights in blocks of 16 output rows, input pair by input pair,
and multiplies every row of a batch per block with ``vdpbf16ps``: fp32 sums, rounded to bf16
once, like oneDNN's (the order of the sums differs, so results agree to bf16 rounding, not
bit for bit). Where the CPU has AMX, oneDNN's tiles stay (they stream near the bandwidth there).
``LLASA_BF16_KERNEL=1`` / ``0`` forces the choice.
"""

from __future__ import annotations

import functools
import os

import torch
from torch import nn

from .._common.cpu import cpu_info
from . import qkernel

ROWS = qkernel.ROWS


def _cpu_ok() -> bool:
    info = cpu_info()
    return "avx512_bf16" in info.flags and info.native_bf16


@functools.lru_cache(maxsize=1)
def available() -> bool:
    """The kernel can run here: AVX512-BF16 (natively, as torch/oneDNN are allowed) + a build."""
    return _cpu_ok() and qkernel.kernel() is not None


def preferred(build: bool = True) -> bool:
    """Use it for bf16 decoding: where it runs and the CPU has no AMX (``LLASA_BF16_KERNEL``
    overrides). ``build=False`` answers without compiling the kernel (``llasa info``)."""
    force = os.environ.get("LLASA_BF16_KERNEL")
    if force == "0" or not (_cpu_ok() and (available() if build else qkernel.isa())):
        return False
    return force == "1" or not ({"amx_bf16", "amx_tile"} & cpu_info().flags)


def usable(in_features: int) -> bool:
    return in_features % 4 == 0


def pack_bf16(w: torch.Tensor) -> torch.Tensor:
    """[N, K] weight → the kernel's layout [N/16 blocks, K/2 pairs, 16 rows, 2] in bf16 (rows
    padded with zeros to a multiple of 16)."""
    n, k = w.shape
    w = w.detach().to(torch.bfloat16)
    pad = -n % ROWS
    if pad:
        w = torch.cat([w, w.new_zeros(pad, k)])
    return w.reshape(-1, ROWS, k // 2, 2).permute(0, 2, 1, 3).contiguous()


def unpack_bf16(packed: torch.Tensor, n: int) -> torch.Tensor:
    """:func:`pack_bf16`'s layout back to the [n, K] weight."""
    nb, p = packed.shape[:2]
    return packed.permute(0, 2, 1, 3).reshape(nb * ROWS, 2 * p)[:n].contiguous()


def bf16_matmul(x: torch.Tensor, packed: torch.Tensor, n: int) -> torch.Tensor:
    """``x`` [..., K] times the packed weights → bf16 [..., n]."""
    lead = x.shape[:-1]
    y = qkernel.kernel().bf16_matmul(x.reshape(-1, x.shape[-1]).to(torch.bfloat16).contiguous(),
                                     packed, n)
    return y.reshape(*lead, n)


class Bf16Linear(nn.Module):
    """Inference-only stand-in for a bf16 ``nn.Linear`` (no bias) on :func:`bf16_matmul`."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        if linear.bias is not None:
            raise ValueError("Bf16Linear takes layers without bias (Llama's)")
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.packed = pack_bf16(linear.weight)  # plain attribute: not a parameter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return bf16_matmul(x, self.packed, self.out_features)

    def unpack(self) -> nn.Linear:
        """An ``nn.Linear`` with the same weight (dense, trainable)."""
        lin = nn.Linear(self.in_features, self.out_features, bias=False, dtype=torch.bfloat16)
        with torch.no_grad():
            lin.weight.copy_(unpack_bf16(self.packed, self.out_features))
        return lin

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bf16 kernel"


def swap_in(root: nn.Module) -> int:
    """Replace every bf16 ``nn.Linear`` (no bias) under ``root`` by :class:`Bf16Linear`."""
    return _swap(root, lambda m: type(m) is nn.Linear and m.bias is None
                 and m.weight.dtype == torch.bfloat16 and usable(m.in_features), Bf16Linear)


def swap_out(root: nn.Module) -> int:
    """Undo :func:`swap_in`."""
    return _swap(root, lambda m: type(m) is Bf16Linear, lambda m: m.unpack())


def _swap(root: nn.Module, match, make) -> int:
    n = 0
    for parent in list(root.modules()):
        for name, child in list(parent.named_children()):
            if match(child):
                setattr(parent, name, make(child))
                n += 1
    return n
