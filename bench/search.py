"""Best-of-N search cost: N = 1, 2, 4, 8, 16 candidates, wall time relative to N = 1, split
into LM sampling, codec decode and verifiers; HF ``generate(num_return_sequences=N)`` (the
official way to sample N candidates) timed in the same run for comparison.

The LM is random weights in a small Llasa shape (``bench/lm.py`` presets, official 193 800-id
vocabulary, packed for CPU as ``Llasa.from_pretrained`` does); the codec is the tiny X-codec2
preset (``--codec full`` for the real decoder shape, random weights). The random LM never
samples END, so every candidate has exactly ``--new-tokens`` tokens. Verifiers are the real
bundled ones (default ``wer`` = Whisper tiny.en and ``sim`` = resemblyzer against an espeak-ng
reference voice); their models are loaded before timing. Prints a markdown table.

    python bench/search.py                                  # eighth shape, bf16, 100 tokens
    python bench/search.py --preset tiny --new-tokens 50 --ns 1,2,4,8 --verifiers sim
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lm import PRESETS, build, hf_generate  # noqa: E402  (bench/lm.py: same model builder)

TEXT = "The quick brown fox jumps over the lazy dog, and then it runs far away."


def espeak_voice(codec_size: int, seconds: float = 3.0):
    """A Voice whose *audio* is real espeak-ng speech (the SIM reference) and whose prompt
    codes are 1 s of random codes (the random LM cannot use real ones anyway)."""
    from llasa.audio import load_audio
    from llasa.tts import Voice

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "v.wav"
        subprocess.run(["espeak-ng", "-w", str(p), "Please call Stella and ask her to bring "
                        "these things with her from the store."], check=True)
        wav = load_audio(p)[: int(seconds * 16000)]
    codes = np.random.default_rng(0).integers(0, codec_size, 50)
    return Voice(text="Please call Stella.", codes=codes, audio=wav, codebook_size=codec_size)


def main(argv=None):
    from llasa._common.cpu import cpu_info  # every benchmark names its CPU

    print(f"CPU: {cpu_info(with_torch=False).summary()}", flush=True)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", choices=sorted(PRESETS), default="eighth")
    ap.add_argument("--dtype", choices=["bf16", "fp32"], default="bf16")
    ap.add_argument("--codec", choices=["tiny", "full"], default="tiny")
    ap.add_argument("--new-tokens", type=int, default=100, help="tokens per candidate")
    ap.add_argument("--ns", default="1,2,4,8,16", help="candidate counts")
    ap.add_argument("--verifiers", default="wer,sim", help="comma-separated specs")
    ap.add_argument("--repeats", type=int, default=2, help="timed rounds (best one is kept)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    ap.add_argument("--no-hf", action="store_true", help="skip the HF generate rows")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    from llasa.codec import presets
    from llasa.codec.model import Codec
    from llasa.search import BestOfN, search
    from llasa.tts import Llasa
    from llasa.verifiers import VerifierRegistry, VerifyRequest

    ns = [int(x) for x in args.ns.split(",")]
    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[args.dtype]
    lm = build(args.preset, dtype)
    codec = Codec.from_config(presets.tiny() if args.codec == "tiny" else presets.full(),
                              seed=0, decode_only=True)
    tts = Llasa(lm, codec)
    voice = espeak_voice(codec.codebook_size)
    specs = tuple(s.strip() for s in args.verifiers.split(",") if s.strip())
    reg = VerifierRegistry()
    for s in specs:  # load every model before timing
        reg.get(s).score([voice.audio], VerifyRequest(text=TEXT, reference_audio=voice.audio))
    if args.threads:  # CTranslate2 (Whisper) resets the process' OpenMP threads when it loads
        torch.set_num_threads(args.threads)
    ids = tts.build_prompt(TEXT, voice)
    print(f"preset {args.preset} {PRESETS[args.preset]}, {args.dtype}, codec {args.codec}, "
          f"{args.new_tokens} tokens per candidate, verifiers {specs}; torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)

    best: dict[int, object] = {}
    hf: dict[int, float] = {}
    for rep in range(args.repeats + 1):  # round 0 warms kernels and the allocator up
        for n in ns:
            lm.optimize()
            res = search(tts, TEXT, voice, BestOfN(n, specs), registry=reg, seed=rep,
                         max_new_tokens=args.new_tokens if rep else 4)
            assert res.compute.lm_tokens == n * (args.new_tokens if rep else 4)
            if rep and (n not in best or res.compute.wall_seconds < best[n].wall_seconds):
                best[n] = res.compute
            if not args.no_hf:
                lm.unoptimize()
                t = time.perf_counter()
                hf_generate(lm, ids, args.new_tokens if rep else 4, n)
                w = time.perf_counter() - t
                if rep and (n not in hf or w < hf[n]):
                    hf[n] = w
            print(f"  round {rep} N={n} done", flush=True)

    base = best[ns[0]]
    print("\n| N | LM tokens | wall s | wall vs N=1 | LM sampling s | LM vs N=1 "
          "| HF generate s | HF vs N=1 | decode s | verifiers s | verifier share "
          "| verifier s per candidate |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in ns:
        c = best[n]
        h = (f"{hf[n]:.2f} | {hf[n] / hf[ns[0]]:.2f}x" if hf else "– | –")
        print(f"| {n} | {c.lm_tokens} | {c.wall_seconds:.2f} | "
              f"{c.wall_seconds / base.wall_seconds:.2f}x | {c.lm_seconds:.2f} | "
              f"{c.lm_seconds / base.lm_seconds:.2f}x | {h} | {c.decode_seconds:.2f} | "
              f"{c.verifier_seconds:.2f} | {c.verifier_share:.0%} | "
              f"{c.verifier_seconds / n:.3f} |")


if __name__ == "__main__":
    os.environ.setdefault("LLASA_QUIET", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
