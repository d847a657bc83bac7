"""`llasa data preferences`: verifier-scored search candidates → preference shards.

Thin over :mod:`llasa.training.prefs_data`: parse → :class:`PrefDataSettings` → API → summary.
"""

from __future__ import annotations

import argparse
import json

EXAMPLES = """examples:
  llasa data preferences runs/prefs/data --list items.jsonl --search best-of-n:8 \\
      --reward '0.7*wer+0.3*sim' --margin 0.1 --seed 0
  llasa data preferences runs/prefs/plain --texts sentences.txt --reward wer
  llasa data preferences runs/prefs/cloned --texts sentences.txt --voices voices.jsonl

items.jsonl: {"utt": "a1", "text": "Hello there.", "prompt_wav": "p/a1.wav",
"prompt_text": "Hi."} per line (prompt optional; eval lists with target_text work too).
voices.jsonl: {"name": "v1", "prompt_wav": "v1.wav", "prompt_text": "..."} per line; the
texts take them in turn. Rerun the same command to resume; see docs/preferences.md."""


def register(sub) -> None:
    p = sub.add_parser("preferences", help="best-of-N / beam candidates + verifier scores → "
                       "(chosen, rejected) pairs for `llasa train prefs`", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out_dir", help="preference folder (resumed when it exists)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--list", help="JSONL items: text (+ prompt_wav, prompt_text)")
    src.add_argument("--texts", help="text file, one sentence per line")
    p.add_argument("--voices", help="with --texts: JSONL voices (prompt_wav, prompt_text), "
                   "assigned to the texts in turn")
    p.add_argument("--lm", help="LM directory or hub id (default: the shipped model)")
    p.add_argument("--codec", help="codec directory or hub id (default: the shipped one)")
    p.add_argument("--search", default="best-of-n:8", help="best-of-n:N or beam:BxK[xT]")
    p.add_argument("--reward", default="0.7*wer+0.3*sim",
                   help="verifier spec ranking candidates (weighted sums on the unit scale)")
    p.add_argument("--margin", type=float, default=0.1,
                   help="least reward gap between an item's best and worst to make a pair")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shard-items", type=int, default=16)
    p.add_argument("--temperature", type=float)
    p.add_argument("--top-k", type=int)
    p.add_argument("--top-p", type=float)
    p.add_argument("--max-new-tokens", type=int)
    p.add_argument("--device", default="cpu")
    p.add_argument("--workers", type=int, default=1,
                   help="processes searching shards in parallel, each on its share of the "
                   "cores (2 on a 2-core CPU roughly doubles the throughput)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..training.prefs_data import PrefDataSettings, load_items, make_preferences

    items = load_items(args.list, texts=args.texts, voices=args.voices)
    sampling = {k: v for k, v in (("temperature", args.temperature), ("top_k", args.top_k),
                                  ("top_p", args.top_p), ("max_new_tokens", args.max_new_tokens))
                if v is not None}
    s = PrefDataSettings(out_dir=args.out_dir, lm=args.lm, codec=args.codec, search=args.search,
                         reward=args.reward, margin=args.margin, seed=args.seed,
                         shard_items=args.shard_items, sampling=sampling, device=args.device,
                         workers=args.workers)
    print(json.dumps(make_preferences(items, s), indent=2))
    return 0
