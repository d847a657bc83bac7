"""Codec speed and memory: llasa's Codec vs the official xcodec2 package, same weights, same run.

Run:  python bench/codec.py                 (full size, seeded random weights; ~10 min on 2 cores)
      python bench/codec.py --skip-memory   (timings only)
      python bench/codec.py --threads 1 --tasks decode --skip-memory --repeats 3   (decode only)

Decode of 10 s of codes (500 tokens) and encode of 10 s of espeak-ng speech, fp32 and bf16,
best of --repeats runs (wall and CPU time, each the best of its runs: the machine is shared).
Prints a markdown table: seconds, real-time factor (seconds of compute per second of audio),
ours/official ratio of wall and of CPU time, and the error of each row against the official
fp32 output (max |diff| for decode, fraction of identical codes for encode). Then the resident
memory (VmHWM) of separate processes that load a codec and decode 2 s: official, ours full,
ours decode_only.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

_MEM_SNIPPET = r"""
import sys, numpy as np, torch
sys.path.insert(0, {bench!r})
import _xcodec2_weights as W
codes = np.load(W.CACHE / "speech_codes.npy")[:100]
if {mode!r} == "official":
    m = W.official_model()
    m.decode_code(torch.from_numpy(codes)[None, None])
else:
    from llasa.codec import Codec
    c = Codec.from_pretrained(W.original_checkpoint(), decode_only={mode!r} == "decode_only")
    c.decode(codes)
hwm = [l for l in open("/proc/self/status") if l.startswith(("VmHWM", "VmRSS"))]
print(" ".join(l.split()[1] for l in hwm))
"""


def _best(fn, repeats: int) -> tuple[tuple[float, float], object]:
    """((best wall s, best CPU s), output) over ``repeats`` runs after one warm-up run."""
    out = fn()  # warm-up: oneDNN primitive caches, packing, allocator
    wall = cpu = float("inf")
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    return (wall, cpu), out


def _err(y: np.ndarray, ref: np.ndarray) -> str:
    snr = 10 * np.log10(np.sum(ref**2) / max(np.sum((y - ref) ** 2), 1e-30))
    return f"max|diff| {np.abs(y - ref).max():.1e}, SNR {snr:.0f} dB (peak {np.abs(ref).max():.2f})"


def main() -> None:
    from llasa._common.cpu import cpu_info  # every benchmark names its CPU

    print(f"CPU: {cpu_info(with_torch=False).summary()}", flush=True)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--tasks", default="decode,encode", help="comma list of decode, encode")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    args = ap.parse_args()
    tasks = args.tasks.split(",")
    import os

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    import _xcodec2_weights as W
    from llasa.codec import Codec

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average "
          f"{os.getloadavg()[0]:.1f}")
    official = W.official_model()
    ckpt = W.original_checkpoint(official)
    wav = W.speech_10s()
    ours = {"fp32": Codec.from_pretrained(ckpt)}
    codes_file = W.CACHE / "speech_codes.npy"
    if not codes_file.exists():
        np.save(codes_file, ours["fp32"].encode(wav)[0])
    codes = np.load(codes_file)[:500]
    ours["bf16"] = Codec.from_pretrained(ckpt, dtype="bf16")
    seconds = len(codes) / 50
    rows = []

    def off_decode(model):
        with torch.no_grad():
            return model.decode_code(torch.from_numpy(codes)[None, None])[0, 0].float().numpy()

    def off_encode(model, dtype):
        with torch.no_grad():
            x = torch.from_numpy(wav)[None].to(dtype)
            return model.encode_code(x)[0, 0].long().numpy()

    if "decode" in tasks:
        t_off, ref_wav = _best(lambda: off_decode(official), args.repeats)
        rows.append(("decode", "official", "fp32", t_off, t_off, "reference"))
        for dt in ("fp32", "bf16"):
            t, y = _best(lambda: ours[dt].decode(codes)[0], args.repeats)
            rows.append(("decode", "llasa", dt, t, t_off, _err(y, ref_wav)))
        official_bf16 = official.to(torch.bfloat16)
        try:
            t, y = _best(lambda: off_decode(official_bf16), args.repeats)
            rows.append(("decode", "official", "bf16", t, t_off, _err(y, ref_wav)))
        except Exception as e:  # noqa: BLE001 - report, do not hide
            rows.append(("decode", "official", "bf16", (float("nan"),) * 2, t_off,
                         f"fails: {type(e).__name__}"))
        official = official_bf16.float()
    if "encode" in tasks:
        t_enc_off, ref_codes = _best(lambda: off_encode(official, torch.float32), args.repeats)
        rows.append(("encode", "official", "fp32", t_enc_off, t_enc_off, "reference"))
        for dt in ("fp32", "bf16"):
            t, c = _best(lambda: ours[dt].encode(wav)[0], args.repeats)
            rows.append(("encode", "llasa", dt, t, t_enc_off,
                         f"codes equal {np.mean(c == ref_codes) * 100:.1f}%"))
    print(f"\n10 s of audio ({len(codes)} codes / {len(wav)} samples), best of {args.repeats} "
          f"after a warm-up run; load average now {os.getloadavg()[0]:.1f}\n")
    print("| task | impl | dtype | wall s | CPU s | RTF (wall) | ours/official wall | "
          "ours/official CPU | vs official fp32 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for task, impl, dt, (t, c), (t_ref, c_ref), note in rows:
        print(f"| {task} | {impl} | {dt} | {t:.2f} | {c:.2f} | {t / seconds:.3f} | "
              f"{t / t_ref:.2f} | {c / c_ref:.2f} | {note} |")
    del official, ours
    if args.skip_memory:
        return
    print("\nresident memory of a process that loads the codec and decodes 2 s\n")
    print("| process | peak RSS (VmHWM) GiB | RSS after GiB |")
    print("|---|---|---|")
    for mode in ("official", "full", "decode_only"):
        code = _MEM_SNIPPET.format(bench=str(Path(__file__).resolve().parent), mode=mode)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if out.returncode:
            print(f"| {mode} | failed: {out.stderr.strip().splitlines()[-1]} | |")
            continue
        hwm, rss = (int(v) / 2**20 for v in out.stdout.split()[-2:])  # status order
        label = {"official": "official XCodec2Model", "full": "llasa Codec",
                 "decode_only": "llasa Codec decode_only=True"}[mode]
        print(f"| {label} | {hwm:.2f} | {rss:.2f} |")


if __name__ == "__main__":
    main()
