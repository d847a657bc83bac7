"""`llasa quantize`: store an LM with 8-bit or 4-bit weights for fast CPU decoding."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .._common.errors import InputError

EXAMPLES = """examples:
  llasa quantize --method int8 -o llasa-int8                     # the shipped model
  llasa quantize --lm HKUSTAudio/Llasa-1B --method int4 -o llasa-1b-int4
  llasa tts "Hello." -o out.wav --lm llasa-1b-int4 --codec HKUSTAudio/xcodec2
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "quantize", help="store an LM with int8/int4 weights for fast CPU decoding",
        description="Quantize a Llasa LM's decoder weights (int8: per-channel, fbgemm; int4: "
        "groups of 32 with scale and offset) and save it with its tokenizer. The result loads "
        "anywhere an LM does (llasa tts/serve/eval --lm DIR, LlasaLM.from_pretrained) and "
        "decodes with the same prompts, speech-only head and sampling.", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lm", help="LM hub id or directory (default: the shipped model)")
    p.add_argument("--method", required=True, choices=["int8", "int4"])
    p.add_argument("-o", "--output", required=True, type=Path, help="new model directory")
    p.add_argument("--force", action="store_true", help="write into a non-empty directory")
    p.set_defaults(func=run)


def run(args) -> int:
    out = args.output
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not args.force)):
        raise InputError(f"{out} exists and is not an empty directory (use --force to write "
                         "into a directory)")
    if out.parent.exists() and not out.parent.is_dir():
        raise InputError(f"{out.parent} is not a directory")
    from ..lm.model import LlasaLM
    from ..tts.defaults import default_model_dir

    t0 = time.perf_counter()
    lm = LlasaLM.from_pretrained(args.lm or default_model_dir() / "lm", device="cpu",
                                 optimize=False, quant=args.method)
    lm.save_pretrained(out)
    size = sum(f.stat().st_size for f in out.iterdir() if f.is_file()) / 2**20
    print(f"wrote {out} ({args.method}, {size:.1f} MiB, {time.perf_counter() - t0:.1f} s)")
    return 0
