"""`llasa export`: write a model in another runtime's format (``onnx``: the torch-free engine).

Parse → :func:`llasa.tts.onnx.export_onnx` → print. Each format is a sub-command.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

EXAMPLES = """examples:
  llasa export onnx -o my_export                     # the shipped model
  llasa export onnx --lm ./my_lm --codec ./my_codec -o my_export
  llasa tts "Hello there." -o hello.wav --lm my_export   # runs on the onnx engine
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="export a model for another runtime (onnx)", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Export an LM + codec pair for another runtime.")
    sub = p.add_subparsers(dest="format", metavar="FORMAT", required=True)
    o = sub.add_parser(
        "onnx", help="LM (KV cache) + codec decoder as ONNX graphs for the onnx engine",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Write lm.onnx, codec_decoder.onnx, tokenizer.json and llasa_onnx.json "
                    "into OUT. `llasa tts --lm OUT` then runs without torch (docs/tts.md).")
    o.add_argument("--lm", help="LM hub id or directory (default: the shipped model)")
    o.add_argument("--codec", help="codec hub id or directory (default: the shipped one)")
    o.add_argument("--revision", help="hub revision of both")
    o.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    o.set_defaults(func=run_onnx)


def run_onnx(args) -> int:
    from ..tts.onnx import export_onnx

    t0 = time.perf_counter()
    out = export_onnx(args.output, args.lm, args.codec, revision=args.revision)
    size = sum(f.stat().st_size for f in out.iterdir() if f.is_file()) / 1e6
    print(f"wrote the onnx export to {out} ({size:.1f} MB, {time.perf_counter() - t0:.1f} s)")
    return 0
