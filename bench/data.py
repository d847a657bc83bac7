"""Data speed: synthetic-corpus generation and ``prepare_dataset`` throughput.

Corpus: utterances/s and audio-seconds/s of espeak-ng synthesis with 1 and 2 worker processes.
Prepare: audio-seconds encoded per wall second, end to end (read + resample + encode + write),
for the official way (one file per ``encode`` call, as LLaSA_training's inference_save_code.py,
one process) against ours (batched encode, audio read by worker processes), in the same run,
with the tiny codec and optionally the full-size X-codec2 (random weights: speed only).
Prints markdown tables.

    python bench/data.py --utterances 24                 # tiny codec, ~2 min on 2 cores
    python bench/data.py --utterances 12 --codecs tiny,full
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LLASA_QUIET", "1")


def bench_synth(n: int, root: Path) -> list[tuple]:
    from llasa.training.data.synth import SynthConfig, synth_corpus

    rows = []
    for workers in (1, 2):
        out = root / f"corpus{workers}"
        t = time.perf_counter()
        synth_corpus(SynthConfig(num_utterances=n, num_speakers=12, heldout_speakers=2,
                                 workers=workers), out)
        dt = time.perf_counter() - t
        import json

        hours = json.loads((out / "corpus.json").read_text())["hours"]
        rows.append((f"espeak-ng, {workers} worker(s)", n / dt, hours * 3600 / dt))
    return rows


def bench_prepare(manifest: Path, codec_name: str, root: Path, device: str | None) -> list[tuple]:
    from llasa.codec import Codec, presets
    from llasa.training.data.prepare import PrepareConfig, prepare_dataset

    cfg = presets.tiny() if codec_name == "tiny" else presets.full()
    t = time.perf_counter()
    codec = Codec.from_config(cfg, device=device)
    build = time.perf_counter() - t
    rows = []
    settings = [("official way: 1 file per encode, 1 process", 1, 1),
                ("llasa: batch 8, 2 reader processes", 8, 2)]
    # warm-up (first-call allocations) so neither side pays it
    prepare_dataset(manifest, root / "warm", codec, PrepareConfig(shard_size=4),
                    overwrite=True)
    for label, batch, workers in settings:
        out = root / f"prep-{codec_name}-{batch}"
        shutil.rmtree(out, ignore_errors=True)
        t = time.perf_counter()
        res = prepare_dataset(manifest, out, codec,
                              PrepareConfig(batch_size=batch, workers=workers, shard_size=500))
        dt = time.perf_counter() - t
        rows.append((f"{codec_name} codec ({build:.0f} s to build), {label}", res.items / dt,
                     res.seconds / dt))
    return rows


def main() -> None:
    from llasa._common.cpu import cpu_info  # every benchmark names its CPU

    print(f"CPU: {cpu_info(with_torch=False).summary()}", flush=True)
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--utterances", type=int, default=24)
    ap.add_argument("--codecs", default="tiny", help="comma list of tiny, full")
    ap.add_argument("--device", default=None)
    args = ap.parse_args()
    import torch

    root = Path(tempfile.mkdtemp(prefix="llasa-bench-data-"))
    try:
        rows = bench_synth(args.utterances, root)
        print(f"\nCorpus synthesis ({args.utterances} utterances, {os.cpu_count()} CPU cores)\n")
        print("| setting | utterances/s | audio s/s |\n|---|---|---|")
        for label, ups, aps in rows:
            print(f"| {label} | {ups:.2f} | {aps:.1f} |")
        manifest = root / "corpus2" / "manifest.jsonl"
        dev = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
        print(f"\nData preparation ({args.utterances} utterances, device {dev}, torch threads "
              f"{torch.get_num_threads()})\n")
        print("| setting | utterances/s | audio s/s |\n|---|---|---|", flush=True)
        for name in args.codecs.split(","):
            # rows print as they finish: the full codec on CPU takes minutes
            for label, ups, aps in bench_prepare(manifest, name.strip(), root, args.device):
                print(f"| {label} | {ups:.2f} | {aps:.1f} |", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
