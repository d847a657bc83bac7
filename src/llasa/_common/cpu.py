"""What this CPU does natively, and the kernels and dtypes llasa picks from it.

Machines differ: some CPUs have AVX-512 with native bf16 (``avx512_bf16``) and AMX, others only
AVX2, where bf16 matmuls are emulated (an AMD EPYC ran a 1B-shape LM 2.6x slower in bf16 than in
fp32) and oneDNN's packed fp32 weights lose to MKL's plain ones. Every default that depends on
the CPU is decided here, once:

- :func:`native_dtype`: bf16 only where the CPU computes it natively, else fp32;
- :func:`pack_pays`: whether oneDNN-packed linears beat plain ``F.linear`` for a workload.

The instruction set seen is the one torch will use: ``ATEN_CPU_CAPABILITY=avx2`` and
``ONEDNN_MAX_CPU_ISA=AVX2`` (torch and oneDNN's own switches) make an AVX-512 machine choose as an
AVX2 one does, which is how the tests and benchmarks check the AVX2 choices on any machine.
Reading the flags needs no torch (``llasa info`` and benchmark headers stay light).
"""

from __future__ import annotations

import functools
import os
import platform
from dataclasses import dataclass, field

# Flags that change a choice or that a benchmark reader wants to see.
FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16",
         "amx_bf16", "amx_int8", "amx_tile", "avx512_fp16")


@dataclass(frozen=True)
class CpuInfo:
    """The CPU as /proc/cpuinfo and torch's dispatch see it.

    Attributes:
        model: the CPU's model name (``lscpu``'s "Model name").
        cores: logical CPUs this process may use.
        flags: the subset of :data:`FLAGS` the CPU reports.
        isa: the vector instruction set torch dispatches to (``AVX512``, ``AVX2``, ...), after
            ``ATEN_CPU_CAPABILITY``; ``None`` when torch has not been asked (see :func:`cpu_info`).
    """

    model: str
    cores: int
    flags: frozenset = field(default_factory=frozenset)
    isa: str | None = None

    @property
    def avx512(self) -> bool:
        return "avx512f" in self.flags and (self.isa or "AVX512").upper().startswith("AVX512")

    @property
    def native_bf16(self) -> bool:
        """bf16 matmuls run in hardware (AVX512-BF16 or AMX) and torch may use them."""
        if not self.avx512 or not ({"avx512_bf16", "amx_bf16"} & self.flags):
            return False
        return _onednn_isa_allows_bf16()

    @property
    def vnni(self) -> bool:
        """int8 dot products in hardware (AVX512-VNNI or AVX-VNNI) that oneDNN may use: without
        them int8 kernels must keep activations to 7 bits (u8*s8 pair sums saturate int16)."""
        cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper()
        if cap in ("SSE41", "AVX", "AVX2"):
            return False
        return bool(("avx512_vnni" in self.flags and self.avx512) or "avx_vnni" in self.flags)

    @property
    def amx_int8(self) -> bool:
        """AMX int8 tiles (Sapphire Rapids and later) that oneDNN's ISA switch still allows."""
        cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper()
        if cap and cap not in ("ALL", "DEFAULT") and "AMX" not in cap:
            return False
        return {"amx_tile", "amx_int8"} <= self.flags and self.avx512 and self.vnni

    def summary(self) -> str:
        """One line for benchmark headers: model, cores, ISA and the flags that matter."""
        flags = " ".join(f for f in FLAGS if f in self.flags) or "none of " + ",".join(FLAGS)
        isa = f", torch ISA {self.isa}" if self.isa else ""
        return f"{self.model} ({self.cores} cores{isa}; flags: {flags})"


def _onednn_isa_allows_bf16() -> bool:
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper()
    return not cap or cap in ("ALL", "DEFAULT") or "BF16" in cap or "AMX" in cap or (
        cap.startswith("AVX10") or cap == "AVX512_CORE_FP16")


@functools.lru_cache(maxsize=1)
def _read_cpuinfo() -> tuple[str, frozenset]:
    model, flags = "", None
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, val = line.partition(":")
                key = key.strip()
                if key == "model name" and not model:
                    model = val.strip()
                elif key in ("flags", "Features") and flags is None:
                    flags = set(val.split())
                if model and flags is not None:
                    break
    except OSError:
        pass
    model = model or platform.processor() or platform.machine() or "unknown CPU"
    return model, frozenset(f for f in FLAGS if f in (flags or ()))


def cpu_info(with_torch: bool = True) -> CpuInfo:
    """This machine's CPU. ``with_torch=False`` skips asking torch for its ISA (no import)."""
    model, flags = _read_cpuinfo()
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    isa = None
    if with_torch:
        import torch

        isa = torch.backends.cpu.get_cpu_capability()
    return CpuInfo(model=model, cores=cores, flags=flags, isa=isa)


def native_dtype(device=None):
    """The fastest dtype this device computes natively: bf16 on CUDA GPUs and CPUs that have it
    (never emulated), fp16 on older GPUs, else fp32."""
    import torch

    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if dev.type != "cpu":
        return torch.float32
    return torch.bfloat16 if cpu_info().native_bf16 else torch.float32


def bf16_is_emulated(device=None) -> bool:
    """True on a CPU where bf16 matmuls are emulated (slow): warn whoever asks for them."""
    import torch

    dev = torch.device(device) if device is not None else torch.device("cpu")
    return dev.type == "cpu" and not cpu_info().native_bf16


def pack_pays(dtype, rows: str = "decode") -> bool:
    """Whether oneDNN-packed weights beat plain ``F.linear`` here for this workload.

    ``rows="decode"``: 1-8 rows per call (LM token steps); ``"long"``: hundreds of rows (the codec
    decoder). On AVX-512 packing wins both (LM step 1.2-2.5x, codec 2.3x, bench/lm.py and
    bench/codec.py). On AVX2 bf16 is emulated, so never; for fp32 codec products MKL's plain
    kernels beat oneDNN's AVX2 ones (the packed decoder ran 0.85x the official one on an AMD
    EPYC). LM steps keep packing on AVX2: the packed fp32 loop ran 1.41x HF ``generate`` on that
    EPYC (issue 17); packed against plain on AVX2 alone is not measured yet.
    """
    import torch

    info = cpu_info()
    if dtype == torch.bfloat16:
        return info.native_bf16
    if dtype != torch.float32:
        return False
    return info.avx512 or rows == "decode"
