"""LM training throughput on the tiny config (hidden 64, 2 layers, 256 speech codes), real
espeak-ng speech encoded by the tiny codec. Prints one table row per variant.

    python bench/lm_train.py [--steps 60] [--threads 1] [--utterances 12]

tokens/s counts real (non-padding) input tokens per second of training wall time (HF Trainer's
``num_input_tokens_seen``, evaluation and checkpoints off). The "official padding" row pads
every row to ``max_length`` as the official ``train_tts.py`` does (fixed 2048-token rows), with
the same model and data; ours pads each batch to its longest sequence (or packs).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent / "tests" / "training"))


def main() -> None:
    from llasa._common.cpu import cpu_info  # every benchmark names its CPU

    print(f"CPU: {cpu_info(with_torch=False).summary()}", flush=True)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from conftest import espeak
    from lm_helpers import cached_prepared

    import llasa.training.lm as recipe
    from llasa.training.lm_config import load_recipe
    from llasa.training.lm_data import Collator

    class OfficialPadding(Collator):
        """Pads every row to max_length (the official fixed-length rows)."""

        max_length = 512

        def __call__(self, items):
            items = [dict(it) for it in items]
            pad = {"input_ids": self.pad_id, "labels": -100, "attention_mask": 0}
            for it in items:
                n = self.max_length - len(it["input_ids"])
                for k, v in pad.items():
                    it[k] = np.concatenate([it[k], np.full(n, v, np.int64)])
            return super().__call__(items)

    prepared = cached_prepared(espeak)
    variants = [
        ("full fp32, batch 4, official padding (512)", {}, OfficialPadding),
        ("full fp32, batch 4", {}, None),
        ("full fp32, batch 4, packing (rows of 512)", {"data": {"packing": True}}, None),
        ("LoRA r8 (q,v), batch 4", {"lora": {"enabled": True}}, None),
        ("full fp32, batch 4, grad checkpointing", {"gradient_checkpointing": True}, None),
        ("ASR task, batch 4", {"data": {"task": "asr"}}, None),
    ]
    print(f"tiny LM training, {args.steps} steps, {args.threads} thread(s), "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"| variant | s/step | tokens/s | final loss |\n|---|---|---|---|")
    for name, over, coll in variants:
        data = {"train": str(prepared), "eval_fraction": 0, **over.pop("data", {})}
        with tempfile.TemporaryDirectory() as d:
            s = load_recipe(None, preset="tiny", output_dir=d, max_steps=args.steps,
                            save_every=0, eval_every=0, log_every=args.steps, data=data, **over)
            saved = recipe.Collator
            if coll is not None:
                recipe.Collator = coll
            try:
                t0 = time.perf_counter()
                out = recipe.train_lm(s)
                wall = time.perf_counter() - t0
            finally:
                recipe.Collator = saved
        print(f"| {name} | {wall / args.steps:.3f} | {out['tokens_per_second']:.0f} | "
              f"{out['last_loss']:.3f} |")


if __name__ == "__main__":
    main()
