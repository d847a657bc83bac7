"""`llasa info`: this machine's CPU, and the kernels and dtypes llasa picks from it."""

from __future__ import annotations

import argparse
import json
import platform


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "info", help="show the CPU's features and the backend/dtype llasa picks",
        description="Print the CPU (model, cores, vector ISA, bf16/AMX/VNNI flags), the "
        "versions of the inference stack, and what llasa chooses from them: the native dtype "
        "('--dtype auto'), whether oneDNN-packed kernels are used for the LM and the codec, "
        "and which quantized kernels ('--quant') are available.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="one JSON object instead of text")
    p.set_defaults(func=run)


def collect() -> dict:
    import torch

    from .. import __version__
    from .._common.cpu import cpu_info, native_dtype
    from .._common.packing import should_pack
    from ..lm import bf16 as bf16_kernel
    from ..lm import qkernel

    info = cpu_info()
    cuda = torch.cuda.is_available()
    engines = list(torch.backends.quantized.supported_engines)
    try:
        import onnxruntime

        ort = onnxruntime.__version__
    except ImportError:
        ort = None
    return {
        "llasa": __version__, "python": platform.python_version(), "torch": torch.__version__,
        "onnxruntime": ort,
        "cpu": {"model": info.model, "cores": info.cores, "isa": info.isa,
                "flags": sorted(info.flags), "native_bf16": info.native_bf16},
        "cuda": torch.cuda.get_device_name(0) if cuda else None,
        "choices": {
            "dtype_auto_cpu": str(native_dtype("cpu")).replace("torch.", ""),
            "dtype_default": "float32",
            "lm_packed_fp32": should_pack("cpu", torch.float32, "decode"),
            "lm_packed_bf16": should_pack("cpu", torch.bfloat16, "decode"),
            "lm_bf16_kernel": bf16_kernel.preferred(build=False),
            "codec_packed_fp32": should_pack("cpu", torch.float32, "long"),
            "quant_int8": "fbgemm" in engines,
            "quant_int4": hasattr(torch.ops.aten, "_weight_int4pack_mm_for_cpu"),
            "quant_kernel": {"isa": qkernel.isa(), "status": qkernel.status()},
        },
    }


def run(args) -> int:
    d = collect()
    if args.json:
        print(json.dumps(d, indent=1))
        return 0
    c, ch = d["cpu"], d["choices"]
    yes = {True: "yes", False: "no"}
    print(f"llasa {d['llasa']} | python {d['python']} | torch {d['torch']} | onnxruntime "
          f"{d['onnxruntime'] or 'not installed'}")
    print(f"CPU: {c['model']}, {c['cores']} cores, torch ISA {c['isa']}")
    print(f"  flags: {' '.join(c['flags']) or '-'}")
    print(f"  native bf16: {yes[c['native_bf16']]}"
          + ("" if c["native_bf16"] else " (bf16 would be emulated: fp32 is used)"))
    print(f"GPU: {d['cuda'] or 'none'}")
    print("llasa picks:")
    print(f"  --dtype auto → {ch['dtype_auto_cpu']} on the CPU (default without it: fp32)")
    print(f"  LM decoding, oneDNN-packed weights: fp32 {yes[ch['lm_packed_fp32']]}, "
          f"bf16 {yes[ch['lm_packed_bf16']]}"
          + (" (bf16 on llasa's vdpbf16ps kernel instead)" if ch["lm_bf16_kernel"] else ""))
    print(f"  codec decoder: fused blocks on "
          f"{'oneDNN-packed weights' if ch['codec_packed_fp32'] else 'MKL (plain weights)'}")
    print(f"  --quant int8 (fbgemm): {yes[ch['quant_int8']]}; --quant int4 (int4pack): "
          f"{yes[ch['quant_int4']]}")
    qk = ch["quant_kernel"]
    use = qk["status"] in ("built", "not built yet")
    print(f"  --quant int8/int4 on llasa's kernel ({qk['isa'] or '-'}): {qk['status']}"
          + (" (compiled on first use)" if qk["status"] == "not built yet" else "")
          + ("" if use else "; torch's kernels above are used"))
    return 0
