"""Is a cross-request prompt-prefix KV cache worth it? Share of a cloning request's time that
the prefix shared by requests with the same voice takes to prefill.

In the official cloning prompt the voice's speech codes come *after* the target text (user turn:
prompt transcript + target text; assistant turn: SPEECH_GENERATION_START + voice codes), so
with causal attention only ``system block + "Convert the text to speech:" +
TEXT_UNDERSTANDING_START + transcript`` is shared by two requests with the same voice. This
script builds two such prompts (same voice, different target texts), takes their longest common
prefix, and times, on random weights in the Llasa shapes:

- the prefill of that shared prefix alone (what a prefix cache could save per request),
- the prefill of the whole prompt (``LlasaLM.start``),
- one decoding step (mean over ``--steps``),

then the request time = whole prefill + ``--new-tokens`` steps, and both shares of it.
The tiny byte-level tokenizer spends one token per byte of text (Llama-3's BPE ~1 per 4
characters), so text, and with it the shared prefix, is *overstated*: the shares printed are
upper bounds.

    python bench/prefix_prefill.py --preset eighth --dtypes bf16,fp32 --threads 1
    python bench/prefix_prefill.py --preset 1b --dtypes bf16 --threads 1   # ~3 GiB
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time
from pathlib import Path

import numpy as np
import torch

TRANSCRIPT = "I went to the market this morning and bought some bread, cheese and fresh apples."
TARGETS = ["The quick brown fox jumps over the lazy dog, and then it runs far away.",
           "Please remember to close the windows before you leave the house tonight."]


def _bench_lm():
    spec = importlib.util.spec_from_file_location("bench_lm", Path(__file__).with_name("lm.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def best(fn, repeats: int) -> float:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return min(out)


def run(preset: str, dtype_name: str, args) -> list[str]:
    from llasa.lm import GenerationSettings

    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[dtype_name]
    lm = _bench_lm().build(preset, dtype).optimize()
    codes = np.random.default_rng(0).integers(0, 65536, int(50 * args.voice_seconds))
    p1, p2 = (lm.build_prompt(t, prompt_text=TRANSCRIPT + " ", prompt_codes=codes)
              for t in TARGETS)
    shared = next(i for i, (a, b) in enumerate(zip(p1, p2)) if a != b)
    settings = GenerationSettings(do_sample=False, max_new_tokens=args.steps + 1)

    def prefix():
        with torch.inference_mode():
            lm.model.model(input_ids=torch.tensor([p1[:shared]]), use_cache=True)

    prefix()  # warm-up (oneDNN kernels, allocator)
    t_prefix = best(prefix, args.repeats)
    t_full = best(lambda: lm.start(p1, 1, settings), args.repeats)
    state = lm.start(p1, 1, settings)
    state.step(2)  # warm-up
    t0 = time.perf_counter()
    n = state.step(args.steps)
    t_step = (time.perf_counter() - t0) / n
    request = t_full + args.new_tokens * t_step
    return [preset, dtype_name, str(len(p1)), str(shared), f"{1e3 * t_prefix:.0f}",
            f"{1e3 * t_full:.0f}", f"{1e3 * t_step:.1f}", f"{request:.2f}",
            f"{100 * t_full / request:.1f} %", f"{100 * t_prefix / request:.1f} %"]


def main(argv=None):
    from llasa._common.cpu import cpu_info  # every benchmark names its CPU

    print(f"CPU: {cpu_info(with_torch=False).summary()}", flush=True)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="eighth", help="bench/lm.py preset: tiny, eighth, 1b")
    ap.add_argument("--dtypes", default="bf16,fp32")
    ap.add_argument("--voice-seconds", type=float, default=6.0, help="voice prompt length")
    ap.add_argument("--new-tokens", type=int, default=250, help="speech tokens per request "
                    "(250 = 5 s, about what the target texts take)")
    ap.add_argument("--steps", type=int, default=30, help="decoding steps timed")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"voice {args.voice_seconds:g} s ({int(50 * args.voice_seconds)} codes), "
          f"{args.new_tokens} new tokens; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; load average {os.getloadavg()[0]:.1f}\n")
    print("| preset | dtype | prompt tokens | shared prefix tokens | shared-prefix prefill ms "
          "| whole prefill ms | step ms | request s | whole prefill / request "
          "| shared prefix / request |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for d in args.dtypes.split(","):
        print("| " + " | ".join(run(args.preset, d, args)) + " |", flush=True)


if __name__ == "__main__":
    main()
