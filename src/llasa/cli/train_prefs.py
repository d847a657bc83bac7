"""`llasa train prefs`: DPO or GRPO on a folder of `llasa data preferences`.

Thin: parse → :class:`PrefTrainSettings` (``load_recipe``) → ``train_prefs`` → summary.
"""

from __future__ import annotations

import argparse
import json

EPILOG = """examples:
  llasa train prefs --method dpo --data runs/prefs/data --output-dir runs/prefs/dpo
  llasa train prefs --method dpo --data runs/prefs/data --lora --lr 5e-4
  llasa train prefs --method grpo --data runs/prefs/data --group-size 8 --max-steps 50
  llasa train prefs --method sft --data runs/prefs/data --lr 5e-5 --max-steps 300
  llasa train prefs --config my_prefs.yaml   # 'preset: dpo|grpo|sft|tiny' + overrides

The run folder holds checkpoints/ (exact resume: run the same command again), metrics.csv,
loss.png, ref_logps.npy (DPO's cached reference log-probs) and model/ (plus adapter/ with
--lora); `llasa tts --lm RUN/model` speaks with it. See docs/preferences.md."""


def register(sub) -> None:
    p = sub.add_parser("prefs", help="preference training (DPO / GRPO / SFT) from verifier "
                       "scores", description="DPO on stored (chosen, rejected) pairs, SFT on "
                       "each item's best candidate, or GRPO with groups sampled by the batched "
                       "decoder and scored by verifiers on audio.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="recipe file (YAML/JSON): 'preset:' + overrides")
    p.add_argument("--method", choices=["dpo", "grpo", "sft"],
                   help="sft: fine-tune on each item's best candidate (rejection sampling)")
    p.add_argument("--data", help="folder from `llasa data preferences`")
    p.add_argument("--init", help="LM to improve (default: the shipped model)")
    p.add_argument("--output-dir")
    p.add_argument("--max-steps", type=int)
    p.add_argument("--batch-size", type=int,
                   help="pairs (dpo), prompts (grpo) or best candidates (sft) per step")
    p.add_argument("--grad-accum", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--beta", type=float, help="DPO beta")
    p.add_argument("--sft-weight", type=float, help="add the chosen NLL (RPO) with this weight")
    p.add_argument("--pairs", choices=["best-worst", "best-vs-rest"],
                   help="DPO pairs: the folder's best/worst, or each best against every "
                        "candidate at least the margin below it")
    p.add_argument("--group-size", type=int, help="GRPO candidates per prompt")
    p.add_argument("--kl-beta", type=float, help="GRPO KL weight")
    p.add_argument("--reward", help="GRPO reward spec (default: the data folder's)")
    p.add_argument("--save-every", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--lora", action="store_true", help="train LoRA adapters (peft)")
    p.add_argument("--no-resume", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..training.prefs import train_prefs
    from ..training.prefs_config import load_recipe

    over: dict = {"data": args.data, "init": args.init, "output_dir": args.output_dir,
                  "max_steps": args.max_steps, "batch_size": args.batch_size,
                  "grad_accum": args.grad_accum, "beta": args.beta,
                  "sft_weight": args.sft_weight, "save_every": args.save_every,
                  "seed": args.seed, "pairs": args.pairs}
    if args.method:
        over["method"] = args.method
        if not args.config:
            over["preset"] = args.method
    if args.lr is not None:
        over["optim"] = {"lr": args.lr}
    grpo = {"group_size": args.group_size, "kl_beta": args.kl_beta, "reward": args.reward}
    if any(v is not None for v in grpo.values()):
        over["grpo"] = grpo
    if args.lora:
        over["lora"] = {"enabled": True}
    if args.no_resume:
        over["resume"] = False
    summary = train_prefs(load_recipe(args.config, **over))
    print(json.dumps(summary, indent=2, default=str))
    return 0
