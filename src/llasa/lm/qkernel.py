"""llasa's own 4-bit CPU kernel for decoding shapes (``csrc/qlinear.cpp``), built on first use.

Batch-1 decoding is bound by the bytes of weights it reads, and no engine measured here streams
4-bit weights near the read bandwidth (torch's int4pack about 11 GB/s, ONNX Runtime's
``MatMulNBits`` 12-14.5 GB/s; docs/lm.md). This kernel does: weights packed in blocks of 16 output
rows, 4-bit codes with an fp16 scale and min per group of 32, activations quantized to int8 per
row and group of 32, integer dot products (AVX512-VNNI ``vpdpbusd`` or AVX2
``vpmaddubsw``/``vpmaddwd``; AMX int8 tiles for several rows where the CPU has them, with the
same bits), all rows of a batch per block so best-of-N reads the weights once.
``LLASA_QKERNEL_AMX=0`` keeps several rows on VNNI.

The extension is compiled by ``torch.utils.cpp_extension.load`` (ninja, g++) into
``~/.cache/llasa/ext`` the first time it is needed (``scripts/install.sh`` does it at install).
:func:`kernel` returns ``None`` where it cannot build or the CPU lacks AVX2, and callers fall back
to torch's kernels. ``LLASA_QKERNEL=0`` turns it off. The instruction set follows
:func:`llasa._common.cpu.cpu_info`, so ``ATEN_CPU_CAPABILITY=avx2`` runs the AVX2 path.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
from pathlib import Path

import torch

from .._common.cpu import cpu_info

log = logging.getLogger(__name__)
SRC = Path(__file__).with_name("csrc") / "qlinear.cpp"
# in the hash
HEADERS = tuple(SRC.with_name(h) for h in (
    "qlinear_amx.h", "qlinear_bf16.h", "attention.h", "vecmath.h"))
ROWS, GROUP, GROUP_BYTES = 16, 32, 320  # must match qlinear.cpp


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    code = SRC.read_bytes() + b"".join(h.read_bytes() for h in HEADERS)
    tag = hashlib.sha256(code + torch.__version__.encode()).hexdigest()[:12]
    return base / "llasa" / "ext" / f"qlinear-{tag}"


def isa() -> str | None:
    """``"avx512_amx"`` (VNNI for one row, AMX tiles for more), ``"avx512_vnni"``, ``"avx2"``,
    or ``None`` where the kernel cannot run."""
    info = cpu_info()
    if "avx512_vnni" in info.flags and info.avx512 and info.vnni:
        return "avx512_amx" if info.amx_int8 else "avx512_vnni"
    return "avx2" if {"avx2", "fma"} <= info.flags else None


def status() -> str:
    """For ``llasa info``, without building: "off", "no AVX2", "built" or "not built yet"."""
    if os.environ.get("LLASA_QKERNEL", "1") == "0":
        return "off"
    if isa() is None:
        return "no AVX2"
    return "built" if (cache_dir() / "llasa_qlinear.so").exists() else "not built yet"


@functools.lru_cache(maxsize=1)
def kernel():
    """The compiled extension module, or ``None`` (disabled, no AVX2, or the build failed)."""
    if os.environ.get("LLASA_QKERNEL", "1") == "0" or isa() is None:
        return None
    try:
        from torch.utils.cpp_extension import load

        d = cache_dir()
        d.mkdir(parents=True, exist_ok=True)
        if not (d / "llasa_qlinear.so").exists():
            log.warning("compiling llasa's 4/8-bit CPU kernel into %s (once, about a minute)", d)
        return load(name="llasa_qlinear", sources=[str(SRC)], build_directory=str(d),
                    extra_cflags=["-O3", "-fopenmp"], extra_ldflags=["-fopenmp"],
                    verbose=False)
    except Exception as e:  # no compiler, no ninja, a read-only home...: torch's kernels instead
        log.warning("llasa's 4-bit kernel did not build (%s); using torch's int4 kernel",
                    str(e).splitlines()[0] if str(e) else type(e).__name__)
        return None


_OFF = [False]


@contextlib.contextmanager
def off():
    """Layers built inside use torch's kernels (benchmarks compare the two)."""
    _OFF[0] = True
    try:
        yield
    finally:
        _OFF[0] = False


def usable(in_features: int) -> bool:
    """Whether a layer with ``in_features`` inputs runs on this kernel here."""
    return not _OFF[0] and in_features % GROUP == 0 and kernel() is not None


def pack_int4(q: torch.Tensor, scale_zero: torch.Tensor) -> torch.Tensor:
    """Codes ``q`` [N, K] (0..15) and ``scale_zero`` [K/32, N, 2] (scale, offset with
    ``w = (q - 8) * scale + offset``) → the kernel's packed bytes (see qlinear.cpp)."""
    n, k = q.shape
    g, pad = k // GROUP, -n % ROWS
    scale, offset = scale_zero[..., 0].t().float(), scale_zero[..., 1].t().float()  # [N, G]
    mins = offset - 8 * scale  # w = q * scale + min
    q = q.to(torch.uint8)
    if pad:
        q = torch.cat([q, q.new_zeros(pad, k)])
        scale, mins = (torch.cat([t, t.new_zeros(pad, g)]) for t in (scale, mins))
    nb = (n + pad) // ROWS
    # [block, row, group, 8 quads, 4] → chunk c holds quads c (low nibble) and c + 4 (high)
    q5 = q.reshape(nb, ROWS, g, 8, 4)
    codes = (q5[:, :, :, :4] | (q5[:, :, :, 4:] << 4)).permute(0, 2, 3, 1, 4)  # [nb, g, 4, 16, 4]
    half = lambda t: t.half().reshape(nb, ROWS, g).transpose(1, 2).contiguous().view(  # noqa: E731
        torch.uint8)  # [nb, g, 32]
    return torch.cat([codes.reshape(nb, g, 256), half(scale), half(mins)], -1).contiguous()


def pack_int8(q: torch.Tensor) -> torch.Tensor:
    """int8 weights [N, K] → the kernel's packed bytes: blocks of 16 rows, per group of 32 eight
    chunks of [16 rows, 4] as ``w + 128`` (unsigned, for ``vpdpbusd``)."""
    n, k = q.shape
    pad = -n % ROWS
    u = (q.to(torch.int16) + 128).to(torch.uint8)
    if pad:
        u = torch.cat([u, u.new_full((pad, k), 128)])
    nb = (n + pad) // ROWS
    return u.reshape(nb, ROWS, k // GROUP, 8, 4).permute(0, 2, 3, 1, 4).reshape(
        nb, k // GROUP, 512).contiguous()


def unpack_int8(packed: torch.Tensor, n: int, k: int) -> torch.Tensor:
    """int8 weights [n, k] back from :func:`pack_int8`'s bytes."""
    nb = packed.shape[0]
    u = packed.reshape(nb, k // GROUP, 8, ROWS, 4).permute(0, 3, 1, 2, 4).reshape(nb * ROWS, k)
    return (u[:n].to(torch.int16) - 128).to(torch.int8)


@functools.lru_cache(maxsize=1)
def _vnni() -> bool:  # asked once: cpu_info() costs more than a small matmul
    return isa() in ("avx512_vnni", "avx512_amx")


@functools.lru_cache(maxsize=1)
def _amx() -> bool:
    return isa() == "avx512_amx" and os.environ.get("LLASA_QKERNEL_AMX", "1") != "0"


def _matmul(x: torch.Tensor, packed: torch.Tensor, wscale: torch.Tensor | None, n: int,
            bits: int, smooth: torch.Tensor | None = None) -> torch.Tensor:
    return kernel().qlinear(x.float().contiguous(), smooth if smooth is not None else _EMPTY,
                            packed, wscale if wscale is not None else _EMPTY, n, bits, _vnni(),
                            _amx())


_EMPTY = torch.empty(0)


def linear_ex(x: torch.Tensor, packed: torch.Tensor, wscale: torch.Tensor | None, n: int,
              bits: int, smooth: torch.Tensor | None = None, norm: torch.Tensor | None = None,
              eps: float = 0.0, glu: bool = False, res: torch.Tensor | None = None) -> torch.Tensor:
    """fp32 ``x`` [M, K] → fp32 [M, n], with a decode layer's glue in the same call: ``norm``
    (RMSNorm weight, with ``eps``) normalises x first; ``glu``: x is [M, 2K] gate | up and the
    input is silu(gate) * up; ``res`` [M, n] is added to the output."""
    e = _EMPTY
    return kernel().qlinear_ex(x.contiguous(), smooth if smooth is not None else e,
                               norm if norm is not None else e, eps, glu, packed,
                               wscale if wscale is not None else e, n, bits, _vnni(), _amx(),
                               res if res is not None else e)


def int4_matmul(x: torch.Tensor, packed: torch.Tensor, n: int) -> torch.Tensor:
    """``x`` [M, K] (any float dtype) times :func:`pack_int4`'s weights → fp32 [M, n]."""
    return _matmul(x, packed, None, n, 4)


def int8_matmul(x: torch.Tensor, packed: torch.Tensor, scale: torch.Tensor, n: int,
                smooth: torch.Tensor | None = None) -> torch.Tensor:
    """``x * smooth`` [M, K] times :func:`pack_int8`'s weights with per-row ``scale`` → fp32."""
    return _matmul(x, packed, scale, n, 8, smooth)


def unpack_codes(packed: torch.Tensor, n: int, k: int) -> torch.Tensor:
    """The 4-bit codes [n, k] (uint8 0..15) back from :func:`pack_int4`'s bytes."""
    nb, g = packed.shape[0], k // GROUP
    codes = packed[..., :256].reshape(nb, g, 4, ROWS, 4)
    q = torch.cat([codes & 15, codes >> 4], 2).permute(0, 3, 1, 2, 4)  # [nb, 16, g, 8, 4]
    return q.reshape(nb * ROWS, k)[:n].contiguous()


def dequantize_packed(packed: torch.Tensor, n: int, k: int) -> torch.Tensor:
    """The fp32 weights [n, k] the kernel computes with (fp16 scales and mins)."""
    nb, g = packed.shape[0], k // GROUP
    sm = packed[..., 256:].contiguous().view(torch.float16).float()  # [nb, g, 32]
    scale = sm[..., :ROWS].transpose(1, 2).reshape(nb * ROWS, g)[:n]
    mins = sm[..., ROWS:].transpose(1, 2).reshape(nb * ROWS, g)[:n]
    q = unpack_codes(packed, n, k).float().reshape(n, g, GROUP)
    return (q * scale[..., None] + mins[..., None]).reshape(n, k)
