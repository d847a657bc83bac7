#!/usr/bin/env python
"""Greedy agreement and mean KL per step of the quantized shipped LM against fp32, on llasa's
kernel and on torch's kernels (fbgemm, int4pack), in one run.

    python recipes/quant_agreement.py            # int8 and int4, 5 sentences x 60 steps (~3 min)

Each sentence is decoded greedily in fp32; each quantized model is then teacher-forced on those
tokens and its log-probabilities over the allowed rows are compared step by step.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = ("The library closes early on Sundays.", "Could you pass me the salt, please?",
             "Seven green apples fell from the old tree.", "We will meet at the station at noon.",
             "Her laughter filled the quiet room.")
STEPS = 60


def main() -> None:
    os.environ.setdefault("LLASA_QUIET", "1")
    import torch

    from llasa.lm import LlasaLM, qkernel

    spec = importlib.util.spec_from_file_location("cpu_bench", ROOT / "bench" / "cpu.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)  # its teacher-forcing and comparison helpers
    torch.set_num_threads(2)
    path = ROOT / "src" / "llasa" / "models" / "default" / "lm"
    ref = LlasaLM.from_pretrained(path)
    refs = []
    for text in SENTENCES:
        ids = ref.build_prompt(text)
        refs.append((ids, *bench._teacher_logits(ref, ids, None, STEPS)))
    print("| method | kernel | steps | greedy agreement | mean KL/step |\n|---|---|---|---|---|")
    for method in sys.argv[1:] or ("int8", "int4"):
        for name in ("llasa", "torch"):
            if name == "llasa" and qkernel.kernel() is None:
                continue
            if name == "torch":
                with qkernel.off():
                    lm = LlasaLM.from_pretrained(path, quant=method)
            else:
                lm = LlasaLM.from_pretrained(path, quant=method)
            agree = kl = n = 0.0
            for ids, tokens, lref in refs:
                c = bench._compare(lref, bench._teacher_logits(lm, ids, tokens, STEPS)[1])
                agree += c["greedy_agreement"] * c["steps"]
                kl += c["mean_kl"] * c["steps"]
                n += c["steps"]
            print(f"| {method} | {name} | {int(n)} | {agree / n:.3f} | {kl / n:.4f} |", flush=True)


if __name__ == "__main__":
    main()
