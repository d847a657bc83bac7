"""The fused CPU decode step against the layer-by-layer torch path it replaces, on the Llasa-1B
shape: ``qfuse.LayerPlan`` (four kernel calls a layer, norms/SwiGLU/residuals fused in) and the
decode-attention kernel (``csrc/attention.h``), on and off, interleaved in one process.

The host's speed drifts (this benchmark was written on a 2-core AMD EPYC whose read bandwidth
moved 27-47 GiB/s in a day), so each round times both paths back to back and the table reports
the median of the per-round ratios as well as the best step of each.

    python bench/fused_step.py                      # int4, one candidate and 8
    python bench/fused_step.py --variants int4,int8,bf16 --rounds 6
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _step_ms(lm, ids, new_tokens: int, k: int) -> float:
    import lm as L

    _, dec, steps = L.ours_split(lm, ids, new_tokens, k)
    return dec / steps * 1e3


def run(variant: str, k: int, rounds: int, new_tokens: int, preset: str) -> dict:
    import lm as L
    from llasa.lm import qfuse, rowcache

    lm = L.build_variant(preset, variant)
    ids = lm.build_prompt(L.TEXT)
    plan = qfuse.layer_plan
    times = {"fused": [], "torch": []}
    try:
        for _ in range(rounds):
            for mode in times:
                rowcache._FUSED[0] = mode == "fused"
                qfuse.layer_plan = plan if mode == "fused" else (lambda layer: None)
                _step_ms(lm, ids, 4, k)  # warm the path
                times[mode].append(_step_ms(lm, ids, new_tokens, k))
    finally:
        rowcache._FUSED[0], qfuse.layer_plan = True, plan
    ratio = statistics.median(a / b for a, b in zip(times["fused"], times["torch"]))
    return {"variant": variant, "k": k, "fused": min(times["fused"]),
            "torch": min(times["torch"]), "ratio": ratio}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="1b", choices=["1b", "eighth", "tiny"])
    ap.add_argument("--variants", default="int4", help="comma list of int4, int8, bf16")
    ap.add_argument("--candidates", default="1,8", help="comma list of rows per step")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    os.environ.setdefault("LLASA_QUIET", "1")
    sys.path.insert(0, str(HERE))
    import torch

    from llasa._common.cpu import cpu_info
    from llasa.lm import bf16, qkernel

    torch.set_num_threads(a.threads)
    print(f"CPU: {cpu_info().summary()}; torch {torch.__version__}, {a.threads} threads, "
          f"{a.preset} shape, {a.new_tokens} new tokens, {a.rounds} rounds", flush=True)
    if qkernel.kernel() is None:
        sys.exit("llasa's CPU kernel is not available here: nothing to compare")
    rows = []
    for v in a.variants.split(","):
        if v == "bf16" and not bf16.preferred():
            print("bf16: skipped (llasa's bf16 kernel is not the choice on this CPU)")
            continue
        for k in (int(c) for c in a.candidates.split(",")):
            rows.append(run(v, k, a.rounds, a.new_tokens, a.preset))
            r = rows[-1]
            print(f"[fused_step] {v} x{k}: fused {r['fused']:.1f} ms, torch {r['torch']:.1f} ms",
                  flush=True)
    print("\n| weights | rows | fused step ms (best) | torch step ms (best) | fused tok/s | "
          "median paired ratio fused / torch |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['variant']} | {r['k']} | {r['fused']:.1f} | {r['torch']:.1f} | "
              f"{1e3 / r['fused']:.1f} | {r['ratio']:.2f}x |")


if __name__ == "__main__":
    main()
