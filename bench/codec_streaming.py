"""Streaming decode vs full decode on the full-size codec: error and latency per setting.

Run:  python bench/codec_streaming.py            (full size, about 5 minutes on 2 cores)
      python bench/codec_streaming.py --tiny     (tiny preset, seconds)
      python bench/codec_streaming.py --codec HKUSTAudio/xcodec2   (trained weights)

Prints, for each StreamSettings, max |stream - full|, SNR in dB against the full decode (all,
first second, rest), the perceptual distance of the stream to the full decode (PESQ-WB, STOI,
log-mel L1), the added latency in tokens (lookahead) and time to first audio, and the decode
cost factor (tokens decoded / tokens). A left context of 0 means "everything so far" (the
window grows; the cost factor shows what that costs). For scale, the last line gives the same
perceptual distances between the full decode and the recording it encodes (the codec's own
error). Codes come from encoding 10 s of espeak-ng speech with the same codec.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

SETTINGS = [  # (chunk, left_context, lookahead, crossfade)
    (10, 10, 2, 2), (25, 50, 10, 5), (25, 100, 25, 10), (50, 100, 25, 10), (50, 200, 50, 10),
]


def main() -> None:
    from llasa._common.cpu import cpu_info  # every benchmark names its CPU

    print(f"CPU: {cpu_info(with_torch=False).summary()}", flush=True)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="use presets.tiny() instead of full size")
    ap.add_argument("--codec", default=None, metavar="PATH_OR_ID",
                    help="measure a real checkpoint instead of the seeded random full model")
    ap.add_argument("--rows", default=None, metavar="C,L,A,X;…",
                    help="settings to measure instead of the built-in list")
    ap.add_argument("--tokens", type=int, default=250, help="codes to stream (50 = 1 s)")
    args = ap.parse_args()
    import torch

    from llasa.codec import Codec, StreamSettings, presets

    torch.manual_seed(0)
    import _xcodec2_weights as W

    wav = W.speech_10s()
    if args.tiny:
        codec = Codec.from_config(presets.tiny())
        codes = codec.encode(wav)[0]
    elif args.codec:
        codec = Codec.from_pretrained(args.codec)
        codes = codec.encode(wav)[0]
    else:
        ckpt = W.original_checkpoint()
        codes_file = W.CACHE / "speech_codes.npy"
        if not codes_file.exists():
            full = Codec.from_pretrained(ckpt)
            np.save(codes_file, full.encode(wav)[0])
            del full
        codes = np.load(codes_file)
        codec = Codec.from_pretrained(ckpt, decode_only=True)
    codes = codes[: args.tokens]
    ref = codec.decode(codes)[0]
    kind = args.codec or ("tiny, seeded random weights" if args.tiny
                          else "full size, seeded random weights")
    print(f"codec: {kind}; {len(codes)} codes ({len(codes) / 50:.1f} s)\n")
    print("| chunk | left | lookahead | crossfade | max abs err | SNR dB | SNR 1st s / rest "
          "| PESQ-WB vs full | STOI vs full | mel L1 vs full | added latency (tokens) "
          "| first audio (tokens) | decode cost × | seconds |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = ([tuple(int(v) for v in r.split(",")) for r in args.rows.split(";")]
            if args.rows else SETTINGS)
    t = len(codes)
    for c, left, a, x in rows:
        st = StreamSettings(chunk=c, left_context=left or 10 ** 9, lookahead=a, crossfade=x)
        t0 = time.perf_counter()
        out = np.concatenate(list(codec.decode_stream((codes[i:i + 5] for i in
                                                       range(0, len(codes), 5)), st)))
        dt = time.perf_counter() - t0
        assert len(out) == len(ref)
        cut = 16000
        snrs = [_snr(ref[sl], out[sl]) for sl in (slice(None), slice(0, cut), slice(cut, None))]
        cost = sum(min(s + c + a, t) - max(0, s - st.left_context)
                   for s in range(0, t, c)) / t
        print(f"| {c} | {left or 'all'} | {a} | {x} | {np.abs(out - ref).max():.4f} "
              f"| {snrs[0]:.1f} | {snrs[1]:.1f} / {snrs[2]:.1f} | {_perceptual(ref, out)} "
              f"| {a} | {c + a} | {cost:.1f} | {dt:.1f} |")
    if args.codec:  # the codec's own error, for scale (random weights would make it meaningless)
        rec = wav[: len(ref)]
        print(f"| full decode vs the recording | | | | | {_snr(rec, ref):.1f} | | "
              f"{_perceptual(rec, ref)} | | | | |")


def _snr(ref: np.ndarray, deg: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref ** 2) / max(np.sum((deg - ref) ** 2), 1e-30)))


def _perceptual(ref: np.ndarray, deg: np.ndarray) -> str:
    from llasa.eval.codec_metrics import mel_distance, pesq_score, stoi_score

    return (f"{pesq_score(ref, deg):.2f} | {stoi_score(ref, deg):.3f} | "
            f"{mel_distance(ref, deg):.3f}")


if __name__ == "__main__":
    main()
