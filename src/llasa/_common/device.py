"""Device and dtype choice. Explicit arguments win; there are no module-level globals."""

from __future__ import annotations

import torch

from .errors import InputError

_DTYPES = {"fp32": torch.float32, "float32": torch.float32, "bf16": torch.bfloat16,
           "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16}


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        d = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise InputError(f"bad device {device!r}: {e}") from None
    if d.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' requested but no CUDA GPU is available")
    return d


def resolve_dtype(dtype: str | torch.dtype | None = None, device=None) -> torch.dtype:
    """A dtype name or ``torch.dtype``; None is fp32; ``"auto"`` is what ``device`` computes
    natively (:func:`llasa._common.cpu.native_dtype`: never an emulated bf16)."""
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    if str(dtype).lower() == "auto":
        from .cpu import native_dtype

        return native_dtype(device)
    try:
        return _DTYPES[str(dtype).lower()]
    except KeyError:
        raise InputError(f"bad dtype {dtype!r}; use auto or one of {sorted(_DTYPES)}") from None


def warn_if_emulated(dtype: torch.dtype, device: torch.device, what: str) -> None:
    """Say so when bf16 was asked for on a CPU that only emulates it (several times slower)."""
    if dtype == torch.bfloat16 and device.type == "cpu":
        from .cpu import bf16_is_emulated

        if bf16_is_emulated(device):
            import logging

            logging.getLogger("llasa").warning(
                "%s: bf16 is emulated on this CPU (no AVX512-BF16/AMX) and runs several times "
                "slower than fp32; use --dtype auto or fp32", what)
