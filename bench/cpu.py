"""One CPU table, every row in one run: LM decoding against HF ``generate`` and llama.cpp at each
bit width, best-of-8 against one candidate, codec decode against the official package, and the
CLI's latency. The header names the CPU.

    python bench/cpu.py                          # Llasa-1B shape, everything (~15 min, ~8 GiB)
    python bench/cpu.py --preset eighth --skip codec,llamacpp
    python bench/cpu.py --isa avx2               # this machine acting as an AVX2-only CPU

Rows (batch 1 unless said; random weights in the Llasa shape, vocab 193 800, tied):

- LM: HF ``generate`` fp32 (the official call); llasa fp32, bf16 (only where the CPU computes it
  natively), int8, int4 (``llasa.lm.quant``), each also with 8 candidates (best-of-8's sampling;
  wall time against one candidate); llama.cpp F16 / Q8_0 / Q4_K_M on the same shape
  (``bench/llamacpp.py``, built on first use). "vs llama.cpp" compares equal bit widths
  (fp32/bf16 with F16).
- LM quality of each reduced precision against fp32 on the same weights: greedy agreement and
  mean KL per step over the allowed rows, teacher-forced on fp32's greedy tokens.
- Codec: decode of 10 s (500 codes), official ``xcodec2`` fp32 vs llasa (``bench/codec.py``'s
  seeded full-size weights), with the max abs difference.
- CLI: ``llasa tts "<sentence>" -o x.wav`` on the shipped model, whole-process wall time
  (median of 5), default engine and ``--engine torch``; and the first vs the second synthesis in
  one process (Python API).

``--isa avx2`` reruns itself with ``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2
MKL_ENABLE_INSTRUCTIONS=AVX2``: torch, oneDNN and MKL then use only AVX2 kernels (llama.cpp
keeps its native build: its rows are then not comparable and are skipped).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
AVX2_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
            "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
SENTENCE = "Please close the window before you leave."
LLAMACPP_OF = {"fp32": "f16", "bf16": "f16", "int8": "q8_0", "int4": "q4_k_m"}


def _log(msg: str) -> None:
    print(f"[cpu] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------- LM
def lm_rows(a, bw: float) -> tuple[list[dict], list[dict]]:
    import torch

    import lm as L
    from llasa._common.cpu import cpu_info

    speed, quality = [], []
    variants = [v for v in ["fp32"] + (["bf16"] if cpu_info().native_bf16 else []) +
                ["int8", "int4"] if v in a.variants]
    ref_logits = ref_tokens = None
    for v in variants:
        _log(f"LM {v}: building the {a.preset} model")
        lm = L.build(a.preset, torch.bfloat16 if v == "bf16" else torch.float32)
        ids = lm.build_prompt(L.TEXT)
        if v == "fp32" and "hf" in a.variants:
            lm.unoptimize()
            speed.append(_time_lm("HF generate", "fp32", L.hf_split, lm, ids, a, 1))
        if v == "fp32":
            ref_tokens, ref_logits = _teacher_logits(lm, ids, None, a.quality_tokens)
        if v in ("int8", "int4"):
            lm.quantize(v)
        else:
            lm.optimize()
        gib = _weight_gib(lm)
        for k in (1, a.best_of):
            row = _time_lm("llasa" if k == 1 else f"llasa, {k} candidates", v, L.ours_split, lm,
                           ids, a, k)
            row["weights_gib"] = gib
            speed.append(row)
        if v != "fp32" and ref_logits is not None:
            _, logits = _teacher_logits(lm, ids, ref_tokens, a.quality_tokens)
            quality.append({"dtype": v, **_compare(ref_logits, logits)})
        del lm
        gc.collect()
    return speed, quality


def _time_lm(label, dtype, fn, lm, ids, a, k) -> dict:
    """Best of ``a.repeats`` split runs (``fn``: bench/lm.py's ``ours_split``/``hf_split``):
    decode tok/s (per row, like llama-bench's ``-n``), the prompt's prefill, and both together."""
    import lm as L

    fn(lm, ids, 4, k)  # warm-up: kernels, allocator
    best = None
    for _ in range(a.repeats):
        with L.PeakRSS() as mem:
            pre, dec, steps = fn(lm, ids, a.new_tokens, k)
        if best is None or dec / steps < best[1] / best[2]:
            best = (pre, dec, steps, mem.peak)
    pre, dec, steps, peak = best
    _log(f"{label} {dtype}: decode {steps / dec:.2f} tok/s, prefill {1000 * pre:.0f} ms")
    return {"method": label, "dtype": dtype, "candidates": k, "tokens": steps * k,
            "prompt_tokens": len(ids), "prefill_s": pre, "decode_s": dec, "steps": steps,
            "tok_s": steps / dec, "e2e_tok_s": steps / (pre + dec), "peak_rss_gib": peak}


def _weight_gib(lm) -> float:
    """Bytes of decoder weights + allowed head rows read per token (quantized: integers)."""
    from llasa.lm.quant import Int4Linear, Int8Linear

    total = 0
    for name, m in lm.model.model.layers.named_modules():
        if isinstance(m, (Int8Linear, Int4Linear)):
            total += m.weight_bytes()
        elif not list(m.children()):
            total += sum(p.numel() * p.element_size() for p in m.parameters(recurse=False))
            packed = getattr(m, "packed", None)
            if packed is not None and hasattr(packed, "numel"):
                total += packed.numel() * packed.element_size()
    h = lm.head_rows()
    if h.quantized is not None:
        total += h.quantized.weight_bytes()
    else:
        total += h.weight.numel() * h.weight.element_size()
    return total / 2**30


def _teacher_logits(lm, ids, tokens, n):
    """(greedy tokens, [n, v] log-probs over the allowed rows), teacher-forced on ``tokens``
    (fp32's greedy ones) when given."""
    import torch

    from llasa.lm import GenerationSettings

    if tokens is None:
        g = lm.generate([ids], GenerationSettings(do_sample=False, max_new_tokens=n))[0][0]
        tokens = [int(c) + lm.vocab.speech_offset for c in g.codes]
    with torch.inference_mode():
        x = torch.tensor([ids + tokens[:-1]])
        hid = lm.model.model(input_ids=x).last_hidden_state[0, len(ids) - 1:]
        logits = lm.head_rows().logits(hid.to(lm.dtype))
    return tokens, torch.log_softmax(logits.float(), -1)


def _compare(ref, got) -> dict:
    import torch

    n = min(len(ref), len(got))
    ref, got = ref[:n], got[:n]
    p = ref.exp()
    kl = torch.where(p > 0, p * (ref - got), torch.zeros_like(p)).sum(-1)
    return {"steps": n, "greedy_agreement": float((ref.argmax(-1) == got.argmax(-1)).float()
                                                  .mean()),
            "mean_kl": float(kl.mean())}


def llamacpp_rows(a) -> list[dict]:
    import llamacpp as C

    work = C.ensure_llamacpp()["src"].parent / "gguf"  # bench/llamacpp.py --keep's files
    work.mkdir(parents=True, exist_ok=True)
    f16 = work / f"{a.preset}-s0-f16.gguf"
    if not f16.exists():
        _log(f"llama.cpp: writing {f16.name}")
        C.write_gguf(f16, C.PRESETS[a.preset], 0)
    rows, prompt = [], _prompt_tokens()
    for q, qtype in C.QUANTS.items():
        if not any(LLAMACPP_OF[v] == q for v in a.variants if v in LLAMACPP_OF):
            continue
        path = f16 if qtype is None else work / f"{a.preset}-s0-{q}.gguf"
        if not path.exists():
            C.quantize(f16, path, qtype, threads=a.threads)
        tps = C.bench(path, threads=a.threads, n=a.new_tokens, reps=a.repeats)
        pps = C.bench_prompt(path, prompt, threads=a.threads, reps=a.repeats)
        _log(f"llama.cpp {q}: decode {tps:.2f} tok/s, prompt {pps:.1f} tok/s")
        pre, dec = prompt / pps, a.new_tokens / tps
        rows.append({"method": "llama.cpp", "dtype": q, "candidates": 1, "tok_s": tps,
                     "prompt_tokens": prompt, "prefill_s": pre, "decode_s": dec,
                     "e2e_tok_s": a.new_tokens / (pre + dec),
                     "file_gib": path.stat().st_size / 2**30})
    return rows


def _prompt_tokens() -> int:
    """Length of the benchmark's prompt (the Llasa chat layout; the tokenizer is the same for
    every preset)."""
    import torch

    import lm as L

    return len(L.build("tiny", torch.float32).build_prompt(L.TEXT))


# ------------------------------------------------------------------------------- codec
def codec_rows(a) -> list[dict]:
    import numpy as np
    import torch

    import _xcodec2_weights as W
    from llasa._common.cpu import cpu_info
    from llasa.codec import Codec

    official = W.official_model()
    ckpt = W.original_checkpoint(official)
    wav = W.speech_10s()
    ours = Codec.from_pretrained(ckpt, decode_only=True)
    codes_file = W.CACHE / "speech_codes.npy"
    if not codes_file.exists():
        np.save(codes_file, Codec.from_pretrained(ckpt).encode(wav)[0])
    codes = np.load(codes_file)[:500]

    def off():
        with torch.no_grad():
            return official.decode_code(torch.from_numpy(codes)[None, None])[0, 0].float().numpy()

    def best(fn):
        out = fn()
        t = float("inf")
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            out = fn()
            t = min(t, time.perf_counter() - t0)
        return t, out

    t_off, ref = best(off)
    rows = [{"method": "official xcodec2", "dtype": "fp32", "wall_s": t_off, "vs_official": 1.0,
             "max_abs_diff": 0.0}]
    variants = [("fp32", ours)]
    if cpu_info().native_bf16:
        variants.append(("bf16", Codec.from_pretrained(ckpt, decode_only=True, dtype="bf16")))
    for dt, c in variants:
        t, y = best(lambda: c.decode(codes)[0])
        kernel = "packed" if any(getattr(m, "packed", False) is True
                                 for m in c.net.modules()) else "MKL"
        rows.append({"method": f"llasa ({kernel})", "dtype": dt, "wall_s": t,
                     "vs_official": t_off / t, "max_abs_diff": float(np.abs(y - ref).max())})
        _log(f"codec {dt}: {t_off / t:.2f}x official")
    return rows


# ------------------------------------------------------------------------------- CLI
_FIRST_WARM = """
import time, sys
t0 = time.perf_counter()
from llasa import Llasa
tts = Llasa.from_pretrained()
t1 = time.perf_counter()
a = time.perf_counter(); tts.synthesize(sys.argv[1], seed=0); b = time.perf_counter()
tts.synthesize(sys.argv[1], seed=0); c = time.perf_counter()
print(t1 - t0, b - a, c - b)
"""


def cli_rows(a) -> list[dict]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LLASA_QUIET": "1", "ORT_DISABLE_TELEMETRY": "1"}
    exe = [sys.executable, "-m", "llasa.cli.main"]
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for label, extra, n in (("llasa tts (default engine)", [], 5),
                                ("llasa tts --engine torch", ["--engine", "torch"], 3)):
            times, engine = [], ""
            for _ in range(n):
                t0 = time.perf_counter()
                out = subprocess.run(exe + ["tts", SENTENCE, "-o", f"{d}/x.wav", "--seed", "0",
                                            *extra], env=env, capture_output=True, text=True)
                times.append(time.perf_counter() - t0)
                if out.returncode:
                    raise SystemExit(f"{label} failed: {out.stderr.strip()[-500:]}")
                engine = out.stdout.strip()
            rows.append({"method": label, "wall_s": statistics.median(times), "runs": n,
                         "summary": engine})
            _log(f"{label}: {statistics.median(times):.2f} s")
        out = subprocess.run([sys.executable, "-c", _FIRST_WARM, SENTENCE], env=env,
                             capture_output=True, text=True, check=True)
        load, first, warm = map(float, out.stdout.split()[-3:])
        rows.append({"method": "Python API: load / first / warm synthesis", "load_s": load,
                     "first_s": first, "warm_s": warm, "first_over_warm": first / warm})
    return rows


# ------------------------------------------------------------------------------- report
def table(res: dict) -> str:
    out = [f"CPU: {res['cpu']}", f"torch {res['torch']}, {res['threads']} threads, read "
           f"bandwidth {res['bandwidth_gib_s']:.1f} GiB/s, load average {res['load']:.1f}; "
           f"{res['preset']} shape, {res['new_tokens']} new tokens, best of {res['repeats']}",
           ""]
    lm = res.get("lm", [])
    cpp = {r["dtype"]: r for r in res.get("llamacpp", [])}
    if lm or cpp:
        p = next((r["prompt_tokens"] for r in lm + res.get("llamacpp", [])), 0)
        hf = next((r for r in lm if r["method"] == "HF generate"), None)
        one = {r["dtype"]: r for r in lm if r["candidates"] == 1 and r["method"] == "llasa"}
        out += [f"Decode: tok/s per row after the prompt (llama-bench `-n`). Prefill: the "
                f"{p}-token prompt (llama-bench `-p {p}`). End to end: prompt + "
                f"{res['new_tokens']} new tokens.", "",
                "| LM | weights | decode tok/s | prefill ms | end-to-end tok/s | vs HF generate "
                "| vs llama.cpp, same bits (decode / end to end) | decode wall vs 1 candidate "
                "| peak RSS GiB |", "|---|---|---|---|---|---|---|---|---|"]
        for r in lm + res.get("llamacpp", []):
            ref = cpp.get(LLAMACPP_OF.get(r["dtype"], "")) if r["method"] == "llasa" else None
            vs_cpp = (f"{r['tok_s'] / ref['tok_s']:.2f}x / {r['e2e_tok_s'] / ref['e2e_tok_s']:.2f}x"
                      if ref and r["candidates"] == 1 else "")
            vs_hf = (f"{r['tok_s'] / hf['tok_s']:.2f}x" if hf and r["candidates"] == 1
                     and r is not hf else "")
            vs1 = (f"{(r['decode_s'] / r['steps']) / (one[r['dtype']]['decode_s'] / one[r['dtype']]['steps']):.2f}x"
                   if r["candidates"] > 1 and r["dtype"] in one else "")
            w = (f"{r['weights_gib']:.2f} GiB/token" if "weights_gib" in r else
                 f"{r['file_gib']:.2f} GiB file" if "file_gib" in r else "")
            rss = f"{r['peak_rss_gib']:.2f}" if "peak_rss_gib" in r else ""
            name = r["method"] if r["candidates"] == 1 or "candidates" in r["method"] else \
                f"{r['method']}, {r['candidates']} candidates"
            out.append(f"| {name} | {r['dtype']} {w} | {r['tok_s']:.2f} | "
                       f"{1000 * r['prefill_s']:.0f} | {r['e2e_tok_s']:.2f} | {vs_hf} | "
                       f"{vs_cpp} | {vs1} | {rss} |")
        out.append("")
    if res.get("quality"):
        out += ["| LM vs fp32 (teacher-forced) | steps | greedy agreement | mean KL/step |",
                "|---|---|---|---|"]
        out += [f"| {q['dtype']} | {q['steps']} | {q['greedy_agreement']:.3f} | "
                f"{q['mean_kl']:.2e} |" for q in res["quality"]]
        out.append("")
    if res.get("codec"):
        out += ["| codec decode, 10 s | dtype | wall s | vs official | max abs diff |",
                "|---|---|---|---|---|"]
        out += [f"| {r['method']} | {r['dtype']} | {r['wall_s']:.2f} | {r['vs_official']:.2f}x"
                f" | {r['max_abs_diff']:.1e} |" for r in res["codec"]]
        out.append("")
    if res.get("cli"):
        out += ["| CLI / API | wall s |", "|---|---|"]
        for r in res["cli"]:
            if "wall_s" in r:
                out.append(f"| `{r['method']}` (median of {r['runs']}) | {r['wall_s']:.2f} |")
            else:
                out.append(f"| {r['method']} | {r['load_s']:.2f} / {r['first_s']:.3f} / "
                           f"{r['warm_s']:.3f} (first = {r['first_over_warm']:.2f}x warm) |")
    return "\n".join(out) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="1b", choices=["1b", "eighth", "tiny"])
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--quality-tokens", type=int, default=64)
    ap.add_argument("--best-of", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip", default="", help="comma list of lm, llamacpp, codec, cli")
    ap.add_argument("--isa", choices=["native", "avx2"], default="native")
    ap.add_argument("--variants", default="hf,fp32,bf16,int8,int4", type=lambda t: t.split(","),
                    help="LM rows to run (fp32 gives the quality reference; llama.cpp rows "
                         "follow the bit widths named)")
    ap.add_argument("--json", type=Path, help="write every figure here too")
    a = ap.parse_args(argv)
    if a.isa == "avx2" and os.environ.get("ATEN_CPU_CAPABILITY") != "avx2":
        os.execve(sys.executable, [sys.executable, __file__, *(argv or sys.argv[1:])],
                  {**os.environ, **AVX2_ENV})
    os.environ.setdefault("LLASA_QUIET", "1")
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    sys.path.insert(0, str(HERE))
    import torch

    import lm as L
    from llasa._common.cpu import cpu_info

    torch.set_num_threads(a.threads)
    skip = set(filter(None, a.skip.split(",")))
    if a.isa == "avx2":
        skip.add("llamacpp")
    res = {"cpu": cpu_info().summary() + (" [acting as AVX2-only]" if a.isa == "avx2" else ""),
           "torch": torch.__version__, "threads": a.threads, "preset": a.preset,
           "new_tokens": a.new_tokens, "repeats": a.repeats, "load": os.getloadavg()[0],
           "bandwidth_gib_s": L.read_bandwidth()}
    print(res["cpu"], flush=True)
    if "lm" not in skip:
        res["lm"], res["quality"] = lm_rows(a, res["bandwidth_gib_s"])
    if "llamacpp" not in skip:
        res["llamacpp"] = llamacpp_rows(a)
    if "codec" not in skip:
        res["codec"] = codec_rows(a)
    if "cli" not in skip:
        res["cli"] = cli_rows(a)
    res["load_after"] = os.getloadavg()[0]
    print()
    print(table(res))
    if a.json:
        a.json.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
