"""`llasa data`: build a synthetic corpus, prepare codec-code shards, import official data.

Thin over ``llasa.training.data``: parse → settings dataclass → API call → print a summary.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

EXAMPLES = """examples:
  llasa data sentences data/sentences --count 4000
  llasa data sentences open-text/ --count 30000 --style open
  llasa data synth-corpus corpus/ --preset clear --utterances 2000 --speakers 48 --workers 2
  llasa data prepare corpus/manifest.jsonl prepared/ --codec HKUSTAudio/xcodec2 \\
      --tokenizer HKUSTAudio/Llasa-1B --split train --vad --workers 2
  torchrun --nproc_per_node 4 -m llasa.cli.main data prepare list.csv prepared/ --codec DIR
  llasa data import-official train_input_ids.memmap imported/ --tokenizer HKUSTAudio/Llasa-1B
  llasa data info prepared/
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "data", help="corpus synthesis and training-data preparation", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Make a synthetic corpus, encode audio into codec-code shards for LM "
                    "training, import the official pre-tokenised format, inspect shards.")
    sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    s = sub.add_parser("sentences", help="write the generated train / held-out sentence lists")
    s.add_argument("out_dir", type=Path)
    s.add_argument("--count", type=int, default=4000)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--heldout-fraction", type=float, default=0.05)
    s.add_argument("--style", choices=["templates", "open", "mixed"], default="templates",
                   help="templates: 16 sentence frames; open: a phrase grammar (any length, "
                        "questions, commands, replies); mixed: both evenly")
    s.set_defaults(func=run_sentences)

    c = sub.add_parser("synth-corpus", help="multi-speaker espeak-ng (+ Piper) corpus, 16 kHz",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("out_dir", type=Path)
    c.add_argument("--utterances", type=int, default=2000)
    c.add_argument("--speakers", type=int, default=48, help="espeak-ng accent × variant voices")
    c.add_argument("--heldout-speakers", type=int, default=6,
                   help="voices kept for the eval_voice split only")
    c.add_argument("--eval-text-share", type=float, default=0.05)
    c.add_argument("--eval-voice-share", type=float, default=0.05)
    c.add_argument("--sentences", help="training sentences, one per line (default: generated)")
    c.add_argument("--heldout-sentences", help="held-out sentences (with --sentences)")
    c.add_argument("--num-sentences", type=int, default=4000)
    c.add_argument("--piper-share", type=float, default=0.0,
                   help="share spoken by the Piper voice (needs piper-tts, GPL-3.0)")
    c.add_argument("--preset", choices=["default", "clear"], default="default",
                   help="default: 8 accents × 37 variants; clear: the 5 × 30 most "
                        "intelligible (docs/data.md)")
    c.add_argument("--accents", help="comma list of espeak-ng English voices (overrides preset)")
    c.add_argument("--variants", help="comma list of espeak-ng variants (overrides preset)")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--workers", type=int, default=2)
    from .data_text import add_engine_options  # issue 18: natural-voice corpus

    add_engine_options(c)
    c.set_defaults(func=run_synth)

    r = sub.add_parser("prepare", help="audio + text → codec codes in resumable shards",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("manifest", help="JSONL / CSV manifest, or a folder of audio + .txt files")
    r.add_argument("out_dir", type=Path)
    r.add_argument("--codec", required=True, help="codec hub id or directory")
    r.add_argument("--tokenizer", help="Llasa tokenizer (hub id or dir): validates token "
                                       "offsets and skips utterances too long for the context")
    r.add_argument("--device", help="codec device (default: cuda when available)")
    r.add_argument("--shard-size", type=int, default=500)
    r.add_argument("--batch-size", type=int, default=8)
    r.add_argument("--min-seconds", type=float, default=0.3)
    r.add_argument("--max-seconds", type=float, default=30.0)
    r.add_argument("--silence-dbfs", type=float, default=-50.0)
    r.add_argument("--max-tokens", type=int, default=2048)
    r.add_argument("--vad", action="store_true", help="trim silence with silero-vad")
    r.add_argument("--split", action="append", help="keep only rows of this split (repeatable)")
    r.add_argument("--workers", type=int, default=1, help="audio-reading processes")
    r.add_argument("--overwrite", action="store_true",
                   help="replace shards prepared from another manifest or settings")
    r.set_defaults(func=run_prepare)

    o = sub.add_parser("import-official", help="official *_input_ids.memmap → llasa shards")
    o.add_argument("memmap", type=Path)
    o.add_argument("out_dir", type=Path)
    o.add_argument("--tokenizer", required=True, help="the Llasa tokenizer of the data")
    o.add_argument("--shard-size", type=int, default=5000)
    o.add_argument("--limit", type=int, help="import only the first N rows")
    o.set_defaults(func=run_import)

    i = sub.add_parser("info", help="summarise and validate a prepared folder")
    i.add_argument("dir", type=Path)
    i.set_defaults(func=run_info)

    from .data_prefs import register as register_preferences  # its own module (size)

    register_preferences(sub)
    from .data_text import register as register_text  # issue 18: ordinary-English text lists

    register_text(sub)


def _tokenizer(name: str):
    from transformers import AutoTokenizer

    from .._common.errors import ModelLoadError
    from .._common.hub import resolve

    path = resolve(name, allow_patterns=["*.json", "*.model", "*.txt"])
    try:
        return AutoTokenizer.from_pretrained(str(path))
    except Exception as e:  # noqa: BLE001 - transformers raises many kinds here
        raise ModelLoadError(f"cannot load a tokenizer from {name}: {e}") from None


def _csv(s: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in s.split(",") if x.strip())


def run_sentences(args) -> int:
    from ..training.data.sentences import generate_sentences

    split = generate_sentences(args.count, seed=args.seed, heldout_fraction=args.heldout_fraction,
                               style=args.style)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, lines in (("train.txt", split.train), ("heldout.txt", split.heldout)):
        (args.out_dir / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(split.train)} training and {len(split.heldout)} held-out sentences "
          f"to {args.out_dir}")
    return 0


def run_synth(args) -> int:
    from ..training.data.synth import PRESETS, synth_corpus

    if args.engine:  # the natural-voice corpus (cli/data_text.py)
        from .data_text import run_natural

        return run_natural(args)

    overrides = {"accents": _csv(args.accents)} if args.accents else {}
    if args.variants:
        overrides["variants"] = _csv(args.variants)
    cfg = PRESETS[args.preset](
        num_utterances=args.utterances, num_speakers=args.speakers,
        heldout_speakers=args.heldout_speakers, eval_text_share=args.eval_text_share,
        eval_voice_share=args.eval_voice_share, sentences=args.sentences,
        heldout_sentences=args.heldout_sentences, num_sentences=args.num_sentences,
        piper_share=args.piper_share, seed=args.seed, workers=args.workers, **overrides)
    manifest = synth_corpus(cfg, args.out_dir)
    info = json.loads((args.out_dir / "corpus.json").read_text())
    print(f"{manifest}: {sum(info['counts'].values())} utterances, {info['hours']:.2f} h "
          f"({', '.join(f'{k} {v}' for k, v in info['counts'].items())})")
    return 0


def run_prepare(args) -> int:
    from .._common.paths import check_output_dir
    from ..codec import Codec
    from ..training.data.manifest import read_manifest
    from ..training.data.prepare import PrepareConfig, prepare_dataset

    check_output_dir(args.out_dir)  # bad input fails before the codec loads
    entries = read_manifest(args.manifest)

    cfg = PrepareConfig(shard_size=args.shard_size, batch_size=args.batch_size,
                        min_seconds=args.min_seconds, max_seconds=args.max_seconds,
                        silence_dbfs=args.silence_dbfs, vad=args.vad,
                        max_tokens=args.max_tokens, splits=args.split, workers=args.workers)
    tok = _tokenizer(args.tokenizer) if args.tokenizer else None
    device = args.device
    if device is None and "LOCAL_RANK" in os.environ:
        import torch

        # under torchrun each rank takes its own GPU instead of all piling onto cuda:0
        if torch.cuda.is_available():
            device = f"cuda:{int(os.environ['LOCAL_RANK']) % torch.cuda.device_count()}"
    codec = Codec.from_pretrained(args.codec, device=device)
    res = prepare_dataset(entries, args.out_dir, codec, cfg, tokenizer=tok,
                          overwrite=args.overwrite)
    idx = res.index
    print(f"{res.out_dir}: {res.shards_written} shard(s) written, {res.shards_reused} already "
          f"done; {res.items} utterance(s) encoded ({res.seconds / 3600:.2f} h), {res.skipped} "
          f"skipped this run. Folder total: {idx['num_items']} utterances, {idx['num_tokens']} "
          f"codes, {idx['num_skipped']} skipped (see report.json)"
          + ("" if idx["complete"] else " — other ranks still running"))
    return 0


def run_import(args) -> int:
    from ..training.data.import_official import import_official

    idx = import_official(args.memmap, args.out_dir, _tokenizer(args.tokenizer),
                          shard_size=args.shard_size, limit=args.limit)
    print(f"{args.out_dir}: {idx['num_items']} utterances imported, {idx['num_skipped']} "
          "skipped (see report.json)")
    return 0


def run_info(args) -> int:
    from ..training.data.shards import CodeShards

    ds = CodeShards(args.dir, allow_incomplete=True)
    ds.validate()
    lengths = ds.lengths
    hours = lengths.sum() / 50 / 3600 if lengths.size else 0.0
    print(f"{args.dir}: {len(ds)} utterances in {ds.num_shards} shard(s), {hours:.2f} h "
          f"({int(lengths.sum())} codes, codebook {ds.codebook_size}), "
          f"{len(ds.speakers)} speaker(s)")
    if lengths.size:
        print(f"codes per utterance: min {lengths.min()}, median {int(np.median(lengths))}, "
              f"max {lengths.max()}")
    skipped = ds.index.get("num_skipped")
    if skipped:
        print(f"{skipped} input(s) skipped: see {args.dir / 'report.json'}")
    plan = args.dir / "plan.json"
    expected = ds.index.get("expected_shards") or (
        json.loads(plan.read_text()).get("expected_shards") if plan.is_file() else None)
    if expected and ds.num_shards < expected:  # killed or still running (other ranks)
        print(f"INCOMPLETE: {ds.num_shards} of {expected} shards; preparation did not finish: "
              "run the same `llasa data prepare` again to complete it")
    elif not (args.dir / "index.json").is_file():
        print("INCOMPLETE: no index.json (preparation did not finish); run the same "
              "`llasa data prepare` again to complete it")
    return 0

