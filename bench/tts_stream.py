"""Time to first audio and total time of the TTS pipeline: the official path vs ours.

Official path (model card): ``model.generate`` for the whole utterance, then one
``decode`` of all codes; the first audio is ready only at the end. Ours: ``Llasa.synthesize``
(our decoding loop + one decode) and ``Llasa.stream`` (audio chunks while tokens arrive; first
chunk after ``StreamSettings`` chunk + lookahead = 35 tokens by default).

Models are random (the only offline weights): a Llama LM of the given shape with the tiny
Llasa tokenizer (65 536 speech tokens) and an X-codec2 decoder of the given preset. Random
weights never sample END, so every run generates exactly ``--tokens`` tokens.

    python bench/tts_stream.py                       # 1/8-size LM + full-size codec decoder
    python bench/tts_stream.py --lm-shape tiny --codec-preset tiny --tokens 100
    python bench/tts_stream.py --lm DIR --codec DIR  # real checkpoints (local dirs or hub ids)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

SHAPES = {  # hidden, layers, heads, kv heads, ffn
    "tiny": (64, 2, 4, 2, 128),
    "eighth": (1024, 8, 16, 8, 4096),
}


def build(args):
    from llasa.codec import Codec, presets
    from llasa.lm import LlasaLM, tiny_lm
    from llasa.tts import Llasa

    if args.lm:
        lm = LlasaLM.from_pretrained(args.lm, dtype=args.dtype)
    else:
        h, n, heads, kv, ffn = SHAPES[args.lm_shape]
        lm = tiny_lm(codebook_size=65536, hidden_size=h, num_layers=n, num_heads=heads,
                     num_kv_heads=kv, intermediate_size=ffn, dtype=args.dtype)
    if args.codec:
        codec = Codec.from_pretrained(args.codec, decode_only=True)
    else:
        cfg = presets.full() if args.codec_preset == "full" else presets.tiny()
        codec = Codec.from_config(cfg, decode_only=True)
    return Llasa(lm, codec)


def official(tts, text: str, n: int, seed: int) -> tuple[float, float]:
    """model.generate (card settings) + one decode. Returns (first audio s, total s)."""
    ids = torch.tensor([tts.build_prompt(text)])
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    out = tts.lm.model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=True,
                                temperature=0.8, top_p=1.0, max_new_tokens=n, min_new_tokens=n,
                                eos_token_id=tts.lm.vocab.speech_end,
                                pad_token_id=tts.lm.tokenizer.pad_token_id)
    new = out[0, ids.shape[1]:].numpy()
    codes = np.clip(new - tts.lm.vocab.speech_offset, 0, tts.codec.codebook_size - 1)
    tts.codec.decode(codes)
    total = time.perf_counter() - t0
    return total, total


def ours_full(tts, text: str, n: int, seed: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    tts.synthesize(text, seed=seed, max_new_tokens=n)
    total = time.perf_counter() - t0
    return total, total


def ours_stream(tts, text: str, n: int, seed: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    first = None
    for _ in tts.stream(text, seed=seed, max_new_tokens=n):
        first = first if first is not None else time.perf_counter() - t0
    return first, time.perf_counter() - t0


def main() -> None:
    from llasa._common.cpu import cpu_info  # every benchmark names its CPU

    print(f"CPU: {cpu_info(with_torch=False).summary()}", flush=True)
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lm"), p.add_argument("--codec")
    p.add_argument("--lm-shape", choices=sorted(SHAPES), default="eighth")
    p.add_argument("--codec-preset", choices=["tiny", "full"], default="full")
    p.add_argument("--dtype", default="bf16")
    p.add_argument("--tokens", type=int, default=150, help="speech tokens per run (50 = 1 s)")
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    text = "Speech synthesis turns written words into sound, one token at a time."
    tts = build(args)
    rows = []
    for name, fn in [("official: generate + decode", official),
                     ("ours: synthesize", ours_full), ("ours: stream", ours_stream)]:
        if fn is ours_full:  # the official path runs on the plain model; ours packs it
            tts.lm.optimize()
        fn(tts, text, 10, 0)  # warm-up (allocations)
        runs = [fn(tts, text, args.tokens, s) for s in range(args.repeats)]
        first, total = (min(r[i] for r in runs) for i in (0, 1))
        rows.append((name, first, total))
    audio_s = args.tokens / 50
    print(f"\nLM {args.lm or args.lm_shape} ({args.dtype}), codec "
          f"{args.codec or args.codec_preset}, {args.tokens} tokens = {audio_s:.1f} s of audio, "
          f"{torch.get_num_threads()} threads, best of {args.repeats}\n")
    print("| path | first audio (s) | total (s) | real-time factor |")
    print("|---|---|---|---|")
    for name, first, total in rows:
        print(f"| {name} | {first:.2f} | {total:.2f} | {total / audio_s:.2f} |")


if __name__ == "__main__":
    main()
