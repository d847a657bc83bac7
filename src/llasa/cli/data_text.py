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

    t = sub.add_parser(
        "text-lists",
        help="ordinary-English sentence lists (WordNet examples, "
        "fortunes, GCIDE quotations, our grammar) with train / held-out splits",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t.add_argument("out_dir")
    t.add_argument(
        "--sources",
        default=",".join(SOURCES),
        help=f"comma list of {', '.join(SOURCES)} (default: all)",
    )
    t.add_argument("--max-per-source", type=int, default=20000)
    t.add_argument("--grammar-count", type=int, default=5000)
    t.add_argument("--heldout-fraction", type=float, default=0.05)
    t.add_argument("--seed", type=int, default=0)
    t.set_defaults(func=run_text_lists)
    register_eval_lists(sub)


def run_text_lists(args) -> int:
    from .._common.errors import InputError
    from ..training.data.textlists import build_lists, write_lists

    if args.max_per_source < 1 or not 0 <= args.heldout_fraction < 1:
        raise InputError("--max-per-source must be >= 1 and --heldout-fraction in [0, 1)")
    sources = tuple(s.strip() for s in args.sources.split(",") if s.strip())
    lists = build_lists(
        sources,
        max_per_source=args.max_per_source,
        grammar_count=args.grammar_count,
        heldout_fraction=args.heldout_fraction,
        seed=args.seed,
    )
    meta = write_lists(lists, args.out_dir)
    for name, m in meta.items():
        print(f"{name:18s} train {m['train']:6d}  held out {m['heldout']:5d}  ({m['licence']})")
    return 0


def add_engine_options(c) -> None:
    """Options of ``llasa data synth-corpus`` for the natural-voice corpus (``--engine``)."""
    g = c.add_argument_group("natural voices (issue 18; with --engine, docs/data.md)")
    g.add_argument(
        "--engine",
        help="comma list of kokoro, piper, flite, festival, espeak: "
        "build the natural-voice corpus from data/text instead of the espeak one",
    )
    g.add_argument(
        "--engine-shares",
        help="comma list of shares, one per --engine (default kokoro 0.6, the others 0.1)",
    )
    g.add_argument(
        "--text-dir", help="sentence lists of `llasa data text-lists` (default data/text)"
    )
    g.add_argument("--text-sources", help="comma list of sources in --text-dir (default all)")
    g.add_argument(
        "--kokoro-mixes",
        type=int,
        default=12,
        help="mixed Kokoro voices (two training voices of one accent, weights 0.3-0.7)",
    )
    g.add_argument("--speed-range", default="0.9,1.1", help="per-utterance speed factor range")
    g.add_argument(
        "--heldout-voices",
        help="comma list of engine:voice kept for eval_voice "
        "(default kokoro:af_river,kokoro:am_puck,kokoro:bf_lily,kokoro:bm_lewis,"
        "espeak:en-us+max)",
    )
    g.add_argument(
        "--voices",
        help="comma list of engine:voice, the only training voices of the engines named "
        "(e.g. espeak:en-us+m1,espeak:en-us+edward: the voices a codec was trained on)",
    )


def run_natural(args) -> int:
    import json

    from .._common.errors import InputError
    from ..training.data.natural import DEFAULT_SHARES, NaturalConfig, synth_natural

    names = [e.strip() for e in args.engine.split(",") if e.strip()]
    if args.engine_shares:
        shares = [float(x) for x in args.engine_shares.split(",")]
        if len(shares) != len(names):
            raise InputError("--engine-shares needs one share per --engine")
    else:
        shares = [DEFAULT_SHARES.get(e, 0.1) for e in names]
    try:
        lo, hi = (float(x) for x in args.speed_range.split(","))
    except ValueError:
        raise InputError(f"--speed-range must be 'lo,hi', got {args.speed_range!r}") from None
    kw = (
        {"heldout_voices": tuple(v.strip() for v in args.heldout_voices.split(",") if v.strip())}
        if args.heldout_voices is not None
        else {}
    )
    cfg = NaturalConfig(
        num_utterances=args.utterances,
        seed=args.seed,
        engine_shares=dict(zip(names, shares)),
        text_dir=args.text_dir,
        eval_text_share=args.eval_text_share,
        eval_voice_share=args.eval_voice_share,
        kokoro_mixes=args.kokoro_mixes,
        speed=(lo, hi),
        workers=args.workers,
        text_sources=tuple(args.text_sources.split(",")) if args.text_sources else None,
        voices=tuple(v.strip() for v in args.voices.split(",") if v.strip())
        if args.voices
        else None,
        **kw,
    )
    manifest = synth_natural(cfg, args.out_dir)
    info = json.loads((args.out_dir / "corpus.json").read_text())
    print(
        f"{manifest}: {sum(info['counts'].values())} utterances, {info['hours']:.2f} h "
        f"({', '.join(f'{k} {v}' for k, v in info['counts'].items())}; engines "
        f"{', '.join(f'{k} {v}' for k, v in info['engines'].items() if v)})"
    )
    return 0


def register_eval_lists(sub) -> None:
    e = sub.add_parser("eval-lists", help="held-out evaluation lists (plain, numbers, cloning, "
                       "300-character paragraphs) of a natural-voice corpus, for llasa eval tts")
    e.add_argument("manifest", help="manifest.jsonl of `llasa data synth-corpus --engine ...`")
    e.add_argument("out_dir")
    e.add_argument("--limit", type=int, default=200, help="lines per list at most")
    e.add_argument("--paragraphs", type=int, default=10)
    e.set_defaults(func=run_eval_lists)


def run_eval_lists(args) -> int:
    from ..training.data.eval_lists import natural_eval_lists

    paths = natural_eval_lists(args.manifest, args.out_dir, limit=args.limit,
                               paragraphs=args.paragraphs)
    for name, p in paths.items():
        n = sum(1 for _ in open(p, encoding="utf-8"))
        print(f"{name:13s} {n:4d} lines  {p}")
    return 0
