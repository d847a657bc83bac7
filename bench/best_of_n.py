"""Best-of-N against one candidate on the CPU decode path, per weight width, in one process: the
decode step of N rows (one prompt forked, as search runs it) and of one row, interleaved round
by round, so the host's drift (this benchmark was written on a 2-core EPYC whose read bandwidth
moved 27-57 GiB/s in a day) falls on both alike.

    python bench/best_of_n.py                              # int8, int4, bf16; N = 8; 1B shape
    python bench/best_of_n.py --variants int4 --rounds 6
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(variant: str, n: int, rounds: int, new_tokens: int, preset: str) -> dict:
    import lm as L

    lm = L.build_variant(preset, variant)
    ids = lm.build_prompt(L.TEXT)
    t = {1: [], n: []}
    for _ in range(rounds):
        for k in t:
            L.ours_split(lm, ids, 3, k)  # warm the path
            _, dec, steps = L.ours_split(lm, ids, new_tokens, k)
            t[k].append(dec / steps * 1e3)
    return {"variant": variant, "one": min(t[1]), "many": min(t[n]),
            "ratio": statistics.median(b / a for a, b in zip(t[1], t[n]))}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="1b", choices=["1b", "eighth", "tiny"])
    ap.add_argument("--variants", default="int8,int4,bf16", help="comma list of int8, int4, bf16")
    ap.add_argument("-n", "--candidates", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--new-tokens", type=int, default=48)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    if a.candidates < 2 or a.rounds < 1 or a.new_tokens < 1:
        ap.error("--candidates must be >= 2, --rounds and --new-tokens >= 1")
    os.environ.setdefault("LLASA_QUIET", "1")
    sys.path.insert(0, str(HERE))
    import torch

    from llasa._common.cpu import cpu_info

    torch.set_num_threads(a.threads)
    print(f"CPU: {cpu_info().summary()}; torch {torch.__version__}, {a.threads} threads, "
          f"{a.preset} shape, {a.new_tokens} new tokens, {a.rounds} rounds", flush=True)
    rows = []
    for v in a.variants.split(","):
        if v == "bf16" and not cpu_info().native_bf16:
            print("bf16: skipped (emulated on this CPU)")
            continue
        rows.append(run(v, a.candidates, a.rounds, a.new_tokens, a.preset))
    n = a.candidates
    print(f"\n| weights | one candidate ms/step (best) | tok/s | best-of-{n} ms/step (best) | "
          f"best-of-{n} / one (median paired) |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['variant']} | {r['one']:.1f} | {1e3 / r['one']:.1f} | {r['many']:.1f} | "
              f"{r['ratio']:.2f}x |")


if __name__ == "__main__":
    main()
