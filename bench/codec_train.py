"""Codec training throughput: steps/s and seconds of audio per second (tiny preset by default).

    python bench/codec_train.py                    # tiny preset, CPU, 1 s crops, batch 2
    python bench/codec_train.py --steps 20 --crop 2.0 --batch 4 --device cuda --precision bf16

There is no official number to print beside ours: the official recipe is a Lightning project
that does not install here (it pins torch 2.5 and needs the hub), so this table reports ours
only. Each step = one discriminator update + one generator update (all losses).
Real espeak-ng speech; the first step (allocation, warm-up) is excluded from the mean.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

SENTENCES = ["The quick brown fox jumps over the lazy dog.",
             "A codec turns speech into a short stream of tokens.",
             "Seven silver swans swam silently southward at sunset."]


def main() -> None:
    from llasa._common.cpu import cpu_info  # every benchmark names its CPU

    print(f"CPU: {cpu_info(with_torch=False).summary()}", flush=True)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--crop", type=float, default=1.0)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    args = ap.parse_args()
    os.environ.setdefault("LLASA_QUIET", "1")
    import torch

    from llasa.training.codec import CodecTrainer
    from llasa.training.codec_config import load_recipe

    if args.threads:
        torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="llasa-bench-codec-train-"))
    try:
        for i, text in enumerate(SENTENCES):
            subprocess.run(["espeak-ng", "-w", str(work / f"{i}.wav"), text], check=True)
        s = load_recipe(None, preset=args.preset, output_dir=str(work / "run"),
                        max_steps=args.steps, save_every=10**9, device=args.device,
                        precision=args.precision, plot=False,
                        data={"train": str(work), "crop_seconds": args.crop,
                              "batch_size": args.batch})
        trainer = CodecTrainer(s).setup()
        t0 = time.perf_counter()
        summary = trainer.train()
        wall = time.perf_counter() - t0
        trainer.cleanup()
        params_g = sum(p.numel() for p in trainer.model.parameters())
        params_d = sum(p.numel() for p in trainer.disc.parameters())
        print(f"\ncodec training, preset {args.preset}, device {args.device}, "
              f"precision {args.precision}, torch threads {torch.get_num_threads()}")
        print(f"generator {params_g / 1e6:.2f} M params, discriminators {params_d / 1e6:.2f} M")
        print("| crop s | batch | steps | s/step | steps/s | audio-s/s | wall s (incl. saves) |")
        print("|---|---|---|---|---|---|---|")
        sps = summary["steps_per_second"]
        print(f"| {args.crop:g} | {args.batch} | {args.steps} | {1 / sps:.3f} | {sps:.2f} | "
              f"{summary['audio_seconds_per_second']:.2f} | {wall:.1f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
