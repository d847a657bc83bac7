"""Cold start: a whole `llasa tts` process, onnx engine vs torch engine, and first vs warm
synthesis inside one process.

Run:  python bench/cold_start.py                    (5 processes per engine, ~1 min on 2 cores)
      python bench/cold_start.py --runs 9 --text "Please wait here."

Each row of the first table is the median (and min/max) wall time of ``--runs`` fresh
processes running ``llasa tts TEXT -o x.wav --seed 0 [--engine torch]`` with the shipped
model, from process start to exit (imports, model load, phonemes, LM, codec, WAV write), and
the CPU time (user + system) the process used: on a shared machine the wall time also counts
waiting for a core.
The second table loads each engine's Python API once (``Llasa.from_onnx()`` /
``Llasa.from_pretrained()``) and times its first ``synthesize`` and the median of
``--warm`` later ones (same text and seed). Prints markdown; the header names the CPU and
whether it has avx512f / avx512_bf16 / amx_bf16. ``torch@1`` is the torch engine with one
OpenMP thread: on a busy shared machine a two-thread pool can spin and wait far longer than
one thread computes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEXT = "Please close the window before you leave."

_IN_PROCESS = r"""
import json, sys, time
t0 = time.perf_counter()
from llasa import Llasa
engine, text, warm = sys.argv[1], sys.argv[2], int(sys.argv[3])
tts = Llasa.from_onnx() if engine == "onnx" else Llasa.from_pretrained()
load = time.perf_counter() - t0
times = []
for _ in range(1 + warm):
    t = time.perf_counter()
    r = tts.synthesize(text, seed=0)
    times.append(time.perf_counter() - t)
print(json.dumps({"load": load, "times": times, "tokens": r.info["tokens"]}))
"""


def cpu_line() -> str:
    """The CPU's model, cores and the flags that matter (llasa's own reader, no torch)."""
    from llasa._common.cpu import cpu_info

    return cpu_info(with_torch=False).summary()


def _child_cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def _engine_env(spec: str) -> tuple[str, dict]:
    """``torch@1`` → ("torch", env with one OpenMP thread); ``onnx`` → ("onnx", env)."""
    engine, _, threads = spec.partition("@")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LLASA_QUIET": "1"}
    if threads:
        env["OMP_NUM_THREADS"] = threads
    return engine, env


def run_cli(spec: str, text: str, out: Path) -> tuple[float, float, str]:
    """(wall s, CPU s of the process, its summary line)."""
    engine, env = _engine_env(spec)
    cmd = [sys.executable, "-m", "llasa.cli", "tts", text, "-o", str(out), "--seed", "0",
           "--engine", engine]
    cpu, t = _child_cpu(), time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall, cpu = time.perf_counter() - t, _child_cpu() - cpu
    if r.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return wall, cpu, r.stdout.strip().splitlines()[-1]


def in_process(spec: str, text: str, warm: int) -> dict:
    engine, env = _engine_env(spec)
    r = subprocess.run([sys.executable, "-c", _IN_PROCESS, engine, text, str(warm)],
                       capture_output=True, text=True, env=env)
    if r.returncode:
        sys.exit(f"in-process {engine} run failed:\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="processes per engine")
    ap.add_argument("--warm", type=int, default=3, help="warm syntheses after the first")
    ap.add_argument("--text", default=TEXT)
    ap.add_argument("--engines", default="onnx,torch,torch@1",
                    help="comma list; torch@N runs torch with N OpenMP threads")
    args = ap.parse_args(argv)
    engines = args.engines.split(",")
    walls: dict[str, list[float]] = {e: [] for e in engines}
    cpus: dict[str, list[float]] = {e: [] for e in engines}
    summary = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):  # interleaved: load drifts on a shared machine
            for e in engines:
                wall, cpu, summary[e] = run_cli(e, args.text, Path(tmp) / "x.wav")
                walls[e].append(wall)
                cpus[e].append(cpu)
    print(f"### Cold start of `llasa tts` — {cpu_line()}\n")
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"Text: {args.text!r}, shipped model, `--seed 0`; {args.runs} processes per engine "
          "(interleaved), wall seconds from process start to exit. Load average after the "
          f"runs (1/5/15 min): {load}.\n")
    print("| engine | wall median s | min s | max s | CPU median s | wall / onnx | CPU / onnx |")
    print("|---|---|---|---|---|---|---|")
    base = statistics.median(walls[engines[0]])
    base_cpu = statistics.median(cpus[engines[0]])
    for e in engines:
        med, cpu = statistics.median(walls[e]), statistics.median(cpus[e])
        print(f"| {e} | {med:.2f} | {min(walls[e]):.2f} | {max(walls[e]):.2f} | {cpu:.2f} | "
              f"{med / base:.1f}× | {cpu / base_cpu:.1f}× |")
    print()
    for e in engines:
        print(f"- {e}: `{summary[e]}`")
    print("\n### First vs warm synthesis in one process (Python API)\n")
    print("| engine | load s | first s | warm s (median) | first / warm | tokens |")
    print("|---|---|---|---|---|---|")
    for e in engines:
        r = in_process(e, args.text, args.warm)
        first, warm = r["times"][0], statistics.median(r["times"][1:])
        print(f"| {e} | {r['load']:.2f} | {first:.3f} | {warm:.3f} | {first / warm:.2f} | "
              f"{r['tokens']} |")


if __name__ == "__main__":
    main()
