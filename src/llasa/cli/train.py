"""`llasa train <recipe>`: training recipes, one sub-subcommand each (``codec`` now; ``lm``
is added here the same way: a ``_register_<name>`` function listed in ``_RECIPES``).

Thin: parse → settings dataclass (``load_recipe``) → the recipe's Python API → print a summary.
"""

from __future__ import annotations

import argparse
import json

_CODEC_EPILOG = """examples:
  llasa train codec --config configs/codec/tiny.yaml --data path/to/wavs
  llasa train codec --config configs/codec/finetune.yaml --data manifest.jsonl --max-steps 2000
  llasa train codec --preset tiny --data wavs/ --output-dir runs/codec-tiny

A run folder holds checkpoints/ (exact resume: run the same command again), metrics.csv,
loss.png and model/ (the trained codec, loadable by `llasa.codec.Codec.from_pretrained`)."""


def _register_codec(sub) -> None:
    p = sub.add_parser("codec", help="train or fine-tune the X-codec2 speech codec (GAN recipe)",
                       description="Train or fine-tune the X-codec2 codec: MPD + multi-"
                       "resolution spectral discriminators, mel/adversarial/feature-matching/"
                       "semantic losses, exact resume.", epilog=_CODEC_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="recipe file (YAML/JSON): 'preset:' + overrides")
    p.add_argument("--preset", help="preset when no --config names one: official, finetune, "
                   "tiny")
    p.add_argument("--data", help="folder of audio or manifest (overrides data.train)")
    p.add_argument("--output-dir", help="run folder (overrides output_dir)")
    p.add_argument("--max-steps", type=int, help="total steps (overrides max_steps)")
    p.add_argument("--batch-size", type=int, help="crops per step (overrides data.batch_size)")
    p.add_argument("--init", help="model directory or hub id to fine-tune (overrides "
                   "model.init)")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:1 … (overrides device)")
    p.add_argument("--no-resume", action="store_true",
                   help="start fresh even if the run folder has checkpoints")
    p.set_defaults(func=_run_codec)


def _run_codec(args) -> int:
    from ..training.codec import train_codec
    from ..training.codec_config import load_recipe

    over: dict = {"output_dir": args.output_dir, "max_steps": args.max_steps,
                  "device": args.device}
    if args.preset:
        over["preset"] = args.preset
    data = {k: v for k, v in (("train", args.data), ("batch_size", args.batch_size)) if v}
    if data:
        over["data"] = data
    if args.init:
        over["model"] = {"init": args.init}
    if args.no_resume:
        over["resume"] = False
    settings = load_recipe(args.config, **over)
    summary = train_codec(settings)
    print(json.dumps({k: summary[k] for k in ("step", "model_dir", "audio_seconds_per_second")}
                     | {"last": {k: v for k, v in summary["last"].items() if v is not None},
                        "skipped_files": len(summary["skipped"])}, indent=2))
    return 0


def _register_lm_recipes(sub) -> None:
    from .train_lm import register_lm, register_merge_lora  # LM recipes live in train_lm.py

    register_lm(sub)
    register_merge_lora(sub)


def _register_prefs(sub) -> None:
    from .train_prefs import register  # preference training lives in train_prefs.py

    register(sub)


_RECIPES = [_register_codec, _register_lm_recipes, _register_prefs]


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train models (codec, lm, merge-lora, prefs)",
                              description="Training recipes.")
    sub = p.add_subparsers(dest="recipe", metavar="RECIPE")
    for reg in _RECIPES:
        reg(sub)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
