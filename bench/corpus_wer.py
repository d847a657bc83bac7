"""Intelligibility of a synthetic corpus: Whisper tiny.en WER of its own audio, per voice.

The quality bar of the shipped model is relative to this number (our synthesis vs the corpus
voice on the same sentences), so it is worth knowing before training. Uses the project's judge
(``llasa.verifiers.asr.Transcriber``, bundled tiny.en, greedy) and ``verifiers.text``
normalisation. Prints the corpus WER (errors over all reference words) and the mean per-utterance
WER per espeak-ng variant and accent.

    python bench/corpus_wer.py corpus/manifest.jsonl --limit 120          # ~2 min on 2 cores
    python bench/corpus_wer.py corpus/manifest.jsonl --split eval_text
"""

from __future__ import annotations

import argparse
import collections
import random

import jiwer
import numpy as np

from llasa.audio import load_audio
from llasa.training.data.manifest import read_manifest
from llasa.verifiers.asr import Transcriber
from llasa.verifiers.text import normalize_text


def main() -> None:
    from llasa._common.cpu import cpu_info  # every benchmark names its CPU

    print(f"CPU: {cpu_info(with_torch=False).summary()}", flush=True)
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("manifest")
    ap.add_argument("--limit", type=int, default=120, help="random utterances to score")
    ap.add_argument("--split", help="only this split")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rows = [e for e in read_manifest(args.manifest) if args.split in (None, e.split)]
    random.Random(args.seed).shuffle(rows)
    rows = rows[: args.limit]
    asr = Transcriber(beam_size=1)
    hyps = asr.transcribe([load_audio(e.audio) for e in rows], language="en")
    refs = [normalize_text(e.text) for e in rows]
    hyps = [normalize_text(h) or "<empty>" for h in hyps]
    print(f"\n{args.manifest}: corpus WER {jiwer.wer(refs, hyps):.3f} over {len(rows)} "
          "utterances\n")
    for key, name in ((lambda e: e.extra.get("voice", "?").split("+")[-1], "variant"),
                      (lambda e: e.extra.get("voice", "?").split("+")[0], "accent")):
        groups = collections.defaultdict(list)
        for e, r, h in zip(rows, refs, hyps):
            groups[key(e)].append(jiwer.wer(r, h))
        print(f"| {name} | utterances | mean WER |\n|---|---|---|")
        for k, ws in sorted(groups.items(), key=lambda kv: np.mean(kv[1])):
            print(f"| {k} | {len(ws)} | {np.mean(ws):.2f} |")
        print()


if __name__ == "__main__":
    main()
