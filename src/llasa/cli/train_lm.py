"""`llasa train lm` and `llasa train merge-lora` (registered by :mod:`llasa.cli.train`).

Thin: parse → :func:`llasa.training.lm_config.load_recipe` → :func:`llasa.training.lm.train_lm`
→ print a JSON summary.
"""

from __future__ import annotations

import argparse
import json

_LM_EPILOG = """examples:
  llasa train lm --config configs/lm/tiny.yaml --data prepared/
  llasa train lm --config configs/lm/tiny.yaml --data corpus-a/prepared corpus-b/prepared
  llasa train lm --config configs/lm/lora.yaml --data prepared/ --init HKUSTAudio/Llasa-1B
  llasa train lm --preset finetune --data prepared/ --output-dir runs/my-voice
  llasa train lm --preset tiny --data prepared/ --task asr --output-dir runs/asr-tiny
  torchrun --nproc_per_node 8 -m llasa.cli.main train lm --config configs/lm/finetune.yaml
  accelerate launch --config_file configs/accelerate/zero2.yaml -m llasa.cli.main train lm \\
      --config configs/lm/finetune.yaml

Run the same command again to resume exactly from the newest checkpoint (even after kill -9).
A run folder holds checkpoints/, metrics.csv, loss.png, settings.json and model/ (full) or
adapter/ (LoRA: merge it with `llasa train merge-lora`)."""

_MERGE_EPILOG = """examples:
  llasa train merge-lora runs/lm-lora/adapter HKUSTAudio/Llasa-1B -o runs/lm-lora/merged
  llasa train merge-lora runs/lm-tiny-lora/adapter -o merged/   # base recorded in the adapter"""


def register_lm(sub) -> None:
    p = sub.add_parser("lm", help="train or fine-tune the Llasa LM (full or LoRA; TTS or ASR)",
                       description="Train the speech LM on prepared shards with HF Trainer: "
                       "official sequences and labels, LoRA, packing, exact resume.",
                       epilog=_LM_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="recipe file (YAML/JSON): 'preset:' + overrides")
    p.add_argument("--preset", help="preset when no --config names one: official, finetune, "
                   "lora, tiny")
    p.add_argument("--data", nargs="+", metavar="DIR",
                   help="prepared folder(s), read as one (overrides data.train)")
    p.add_argument("--eval-data", help="prepared folder for the eval loss (overrides data.eval)")
    p.add_argument("--task", choices=["tts", "asr"], help="overrides data.task")
    p.add_argument("--init", help="model directory / hub id or 'tiny' (overrides model.init)")
    p.add_argument("--output-dir", help="run folder (overrides output_dir)")
    p.add_argument("--max-steps", type=int, help="optimizer steps (overrides max_steps)")
    p.add_argument("--batch-size", type=int, help="sequences per device (overrides batch_size)")
    p.add_argument("--lr", type=float, help="peak learning rate (overrides optim.lr)")
    p.add_argument("--lora", action="store_true", help="train LoRA adapters (lora.enabled)")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"])
    p.add_argument("--no-resume", action="store_true",
                   help="start fresh even if the run folder has checkpoints")
    p.set_defaults(func=run_lm)


def run_lm(args) -> int:
    from ..training.lm import train_lm
    from ..training.lm_config import load_recipe

    over: dict = {"output_dir": args.output_dir, "max_steps": args.max_steps,
                  "batch_size": args.batch_size, "precision": args.precision,
                  "data": {"train": args.data, "eval": args.eval_data, "task": args.task},
                  "model": {"init": args.init}, "optim": {"lr": args.lr}}
    if args.preset:
        over["preset"] = args.preset
    if args.lora:
        over["lora"] = {"enabled": True}
    if args.no_resume:
        over["resume"] = False
    summary = train_lm(load_recipe(args.config, **over))
    print(json.dumps(summary, indent=2))
    return 0


def register_merge_lora(sub) -> None:
    p = sub.add_parser("merge-lora", help="merge a LoRA adapter into its base model",
                       description="Merge LoRA adapters into the base weights and save a plain "
                       "checkpoint (config.json + model.safetensors + tokenizer).",
                       epilog=_MERGE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("adapter", help="adapter folder (a LoRA run's adapter/)")
    p.add_argument("base", nargs="?", help="base model directory / hub id (default: the one "
                   "recorded in adapter_config.json)")
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("--dtype", help="fp32 / bf16 / fp16 (default: the base's)")
    p.set_defaults(func=run_merge)


def run_merge(args) -> int:
    from ..training.lora import merge_lora

    out = merge_lora(args.adapter, args.base, args.output, dtype=args.dtype)
    print(json.dumps({"merged": str(out)}))
    return 0
