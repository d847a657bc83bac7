"""`llasa data text-lists`: sentence lists of ordinary English from Debian text packages.

Thin over :mod:`llasa.training.data.textlists`.
"""

from __future__ import annotations

import argparse

EXAMPLES = """examples:
  llasa data text-lists data/text            # the committed lists (needs the Debian packages)
  llasa data text-lists my-text/ --sources wordnet,grammar --max-per-source 5000

Debian packages: apt-get install wordnet-base fortunes fortunes-min dict-gcide
(scripts/install.sh installs them). Each source's licence is in sources.json and docs/data.md."""


def register(sub) -> None:
    from ..training.data.textlists import SOURCES

    t = sub.add_parser("text-lists", help="ordinary-English sentence lists (WordNet examples, "
                       "fortunes, GCIDE quotations, our grammar) with train / held-out splits",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("out_dir")
    t.add_argument("--sources", default=",".join(SOURCES),
                   help=f"comma list of {', '.join(SOURCES)} (default: all)")
    t.add_argument("--max-per-source", type=int, default=20000)
    t.add_argument("--grammar-count", type=int, default=5000)
    t.add_argument("--heldout-fraction", type=float, default=0.05)
    t.add_argument("--seed", type=int, default=0)
    t.set_defaults(func=run_text_lists)


def run_text_lists(args) -> int:
    from .._common.errors import InputError
    from ..training.data.textlists import build_lists, write_lists

    if args.max_per_source < 1 or not 0 <= args.heldout_fraction < 1:
        raise InputError("--max-per-source must be >= 1 and --heldout-fraction in [0, 1)")
    sources = tuple(s.strip() for s in args.sources.split(",") if s.strip())
    lists = build_lists(sources, max_per_source=args.max_per_source,
                        grammar_count=args.grammar_count,
                        heldout_fraction=args.heldout_fraction, seed=args.seed)
    meta = write_lists(lists, args.out_dir)
    for name, m in meta.items():
        print(f"{name:18s} train {m['train']:6d}  held out {m['heldout']:5d}  ({m['licence']})")
    return 0
