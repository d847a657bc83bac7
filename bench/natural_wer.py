"""Whisper tiny.en WER of a natural-voice corpus's own recordings, per engine, split and source.

These are the "recordings" figures the goals of issue 18 are relative to (a TTS model must reach
1.3x / 1.5x of them on the same engine, voices and held-out sentences). Uses the project's judge
(``llasa.verifiers.asr.Transcriber``, greedy) and its normalisation on the written text, so
"$45" in the reference and "forty-five dollars" in the transcript agree.

    python bench/natural_wer.py runs/natural/eval/manifest.jsonl --split eval_text,eval_voice \
        --out runs/natural/eval_wer.jsonl
    python bench/natural_wer.py ... --out runs/natural/eval_wer.jsonl --rescore   # judge changed
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")


def main() -> None:
    from llasa._common.cpu import cpu_info

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("manifest")
    ap.add_argument("--split", default="eval_text,eval_voice", help="comma list of splits")
    ap.add_argument("--limit", type=int, default=0, help="score at most N utterances (0: all)")
    ap.add_argument("--out", help="write per-utterance results here (JSONL)")
    ap.add_argument("--rescore", action="store_true", help="re-score the transcripts of --out "
                    "with the current judge normalisation instead of transcribing again")
    args = ap.parse_args()
    print(f"CPU: {cpu_info(with_torch=False).summary()} | load {os.getloadavg()[0]:.2f}",
          flush=True)

    from tqdm import tqdm

    from llasa.audio import load_audio
    from llasa.eval.judges import error_counts
    from llasa.training.data.manifest import read_manifest
    from llasa.verifiers.asr import Transcriber

    splits = set(args.split.split(","))
    rows = [e for e in read_manifest(args.manifest) if e.split in splits]
    rows = rows[: args.limit] if args.limit else rows
    results = []
    if args.rescore:
        with open(args.out) as f:
            results = [json.loads(line) for line in f if line.strip()]
        for r in results:
            r["err"], r["words"] = error_counts(r["text"], r["hyp"], "en", "wer")
        rows = []
    asr = Transcriber() if rows else None
    for e in tqdm(rows, desc="transcribe"):
        hyp = asr.transcribe([load_audio(e.audio)], language="en")[0]
        err, n = error_counts(e.text, hyp, "en", "wer")
        results.append({"text": e.text, "hyp": hyp, "err": err, "words": n, "split": e.split,
                        "engine": e.extra.get("engine"), "voice": e.extra.get("voice"),
                        "source": e.extra.get("source"),
                        "digits": bool(re.search(r"\d|\$|%", e.text))})
    if args.out:
        with open(args.out, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in results)

    def table(key, title):
        g = collections.defaultdict(list)
        for r in results:
            g[key(r)].append(r)
        print(f"\n| {title} | utterances | WER (corpus) | WER (mean) |\n|---|---|---|---|")
        for k in sorted(g, key=str):
            rs = g[k]
            corpus = sum(r["err"] for r in rs) / max(1, sum(r["words"] for r in rs))
            mean = sum(r["err"] / max(1, r["words"]) for r in rs) / len(rs)
            print(f"| {k} | {len(rs)} | {corpus:.3f} | {mean:.3f} |")

    table(lambda r: r["engine"], "engine")
    table(lambda r: (r["engine"], r["split"]), "engine, split")
    table(lambda r: r["source"], "text source")
    table(lambda r: "with numbers/symbols" if r["digits"] else "words only", "text")
    table(lambda r: "all", "all")


if __name__ == "__main__":
    main()
