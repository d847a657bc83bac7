"""llama.cpp as a speed reference for LM decoding: F16 / Q8_0 / Q4_K_M on the Llasa shape.

Random weights in the Llama layout (the Llasa shape: vocab 193 800, tied embeddings, Llama-3
rope theta 500 000), written as an F16 GGUF with llama.cpp's own ``gguf-py``, quantised with
``llama-quantize`` and timed with ``llama-bench`` (batch 1, ``-p 0 -n N``: decode only). The
llama.cpp used is the one vendored in the ``llama-cpp-python==0.3.36`` sdist, built once (about
6 minutes on 2 cores) into a cache dir outside the repo: ``~/.cache/llasa/llama.cpp-0.3.36``
(env ``LLASA_LLAMACPP_DIR`` overrides). Only the two command-line tools are built; the
llama-cpp-python binding is not needed for reference numbers.

Rope: plain theta 500 000 as in bench/lm.py (no ``rope_freqs`` tensor for Llama-3 rope
scaling; that one would be a 32-float vector per model, nothing for speed).

Tied output: like ``convert_hf_to_gguf.py`` does for tied Llama 3.2 1B, only ``token_embd``
is written (no ``output.weight``); llama.cpp then reads the output projection from
``token_embd``. After quantisation the tied matrix keeps llama-quantize's own choice for
``token_embd`` (the same as for a converted Llama 3.2 1B), so bytes per token are comparable.

    python bench/llamacpp.py --preset 1b --quants f16,q8_0,q4_k_m --repeats 2
    python bench/llamacpp.py --preset tiny --quants f16,q4_k_m
"""

from __future__ import annotations

import argparse
import fcntl
import glob
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

VERSION = "0.3.36"  # llama-cpp-python sdist that vendors the llama.cpp we build
TARGETS = ("llama-bench", "llama-quantize")
VOCAB = 193800  # 128 256 text ids + 65 536 speech ids + 8: the Llasa id layout
ROPE_THETA = 500000.0
NORM_EPS = 1e-5
CTX = 131072

try:  # one table for both benches (bench/lm.py imports torch: only for its PRESETS)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from lm import PRESETS  # noqa: E402
except Exception:  # pragma: no cover - torch missing: the same table
    PRESETS = {  # hidden, layers, heads, kv heads, ffn
        "1b": (2048, 16, 32, 8, 8192),
        "eighth": (1024, 8, 16, 4, 4096),
        "tiny": (256, 2, 4, 2, 512),
    }
finally:
    sys.path.pop(0)

QUANTS = {"f16": None, "q8_0": "Q8_0", "q4_k_m": "Q4_K_M"}


def default_cache_dir() -> Path:
    env = os.environ.get("LLASA_LLAMACPP_DIR")
    if env:
        return Path(env).expanduser()
    return Path("~/.cache/llasa").expanduser() / f"llama.cpp-{VERSION}"


def _log(msg: str) -> None:
    print(f"[llamacpp] {msg}", file=sys.stderr, flush=True)


def ensure_llamacpp(cache_dir: str | os.PathLike | None = None, jobs: int | None = None,
                    build: bool = True) -> dict:
    """Download (pip, sdist only), unpack and build llama-bench + llama-quantize, once.

    Returns ``{"src", "bench", "quantize", "gguf_py"}`` (paths). Each step is skipped when its
    output is there already, so a second call costs nothing. ``build=False`` stops after the
    unpacking (enough for ``gguf-py``).
    """
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    src, bdir = cache / "llama.cpp", cache / "build"
    paths = {"src": src, "bench": bdir / "bin" / "llama-bench",
             "quantize": bdir / "bin" / "llama-quantize", "gguf_py": src / "gguf-py"}
    need = ("bench", "quantize", "gguf_py") if build else ("gguf_py",)
    if all(paths[k].exists() for k in need):
        return paths
    with open(cache / ".lock", "w") as lock:  # one download/build at a time per cache dir
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _ensure(cache, src, paths, jobs, build)


def _ensure(cache: Path, src: Path, paths: dict, jobs: int | None, build: bool) -> dict:
    bdir = paths["bench"].parent.parent
    if not (src / "CMakeLists.txt").exists():
        sdists = glob.glob(str(cache / f"llama_cpp_python-{VERSION}.tar.gz"))
        if not sdists:
            _log(f"downloading the llama-cpp-python=={VERSION} sdist with pip")
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                            "--no-binary", ":all:", "-d", str(cache),
                            f"llama-cpp-python=={VERSION}"], check=True)
            sdists = glob.glob(str(cache / "llama_cpp_python-*.tar.gz"))
        _log(f"unpacking {Path(sdists[0]).name}")
        with tempfile.TemporaryDirectory(dir=cache) as tmp, tarfile.open(sdists[0]) as tf:
            prefix = f"llama_cpp_python-{VERSION}/vendor/llama.cpp/"
            members = [m for m in tf.getmembers() if m.name.startswith(prefix)]
            try:
                tf.extractall(tmp, members=members, filter="data")
            except TypeError:  # Python without extraction filters
                tf.extractall(tmp, members=members)
            if src.exists():
                shutil.rmtree(src)
            shutil.move(os.path.join(tmp, prefix), src)
        git = src / ".git"  # a submodule pointer into llama-cpp-python's repo: dangling here
        if git.is_file():
            git.unlink()
    if build and not (paths["bench"].exists() and paths["quantize"].exists()):
        jobs = jobs or os.cpu_count() or 2
        t = time.perf_counter()
        log = cache / "build.log"
        _log(f"configuring and building {', '.join(TARGETS)} with -j{jobs} (~6 min on 2 cores;"
             f" log: {log})")
        with open(log, "w") as f:
            for cmd in (["cmake", "-S", str(src), "-B", str(bdir), "-DGGML_NATIVE=ON",
                         "-DLLAMA_CURL=OFF", "-DCMAKE_BUILD_TYPE=Release",
                         "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
                         "-DLLAMA_BUILD_SERVER=OFF"],
                        ["cmake", "--build", str(bdir), "--target", *TARGETS, f"-j{jobs}"]):
                if subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT).returncode:
                    raise RuntimeError(f"{' '.join(cmd)} failed; see {log}")
        _log(f"built in {time.perf_counter() - t:.0f} s")
    return paths


def import_gguf(cache_dir=None):
    """The ``gguf`` package vendored with the llama.cpp we build (same GGUF version)."""
    gp = str(ensure_llamacpp(cache_dir, build=False)["gguf_py"])
    if gp not in sys.path:
        sys.path.insert(0, gp)
    import gguf

    return gguf


def write_gguf(path, shape=PRESETS["1b"], seed: int = 0, vocab: int = VOCAB,
               cache_dir=None) -> int:
    """An F16 GGUF of random Llama weights (N(0, 0.02), norms 1) in ``shape``; returns bytes.

    ``shape`` = (hidden, layers, heads, kv heads, ffn) or a preset name. Tied: only
    ``token_embd.weight`` is written, as ``convert_hf_to_gguf.py`` does for Llama 3.2 1B.
    Matrices are drawn and written in 8 MiB blocks (seeded numpy), so memory stays small
    even for the 794 MB ``token_embd`` of the 1b preset.
    """
    import numpy as np

    gguf = import_gguf(cache_dir)
    if isinstance(shape, str):
        shape = PRESETS[shape]
    h, n_layers, heads, kv, ffn = shape
    hd = h // heads
    rng = np.random.default_rng(seed)

    class _Random:  # what write_tensor_data needs (nbytes, tofile), drawn in 8 MiB blocks
        def __init__(self, s):
            self.shape, self.nbytes = s, int(np.prod(s)) * 2

        def tofile(self, f):
            rows = max(1, (1 << 22) // int(np.prod(self.shape[1:])))
            for i in range(0, self.shape[0], rows):
                blk = (self.shape[0] - i if i + rows > self.shape[0] else rows,) + self.shape[1:]
                (rng.standard_normal(blk, dtype=np.float32) * 0.02).astype(np.float16).tofile(f)

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name(f"llasa-random-{h}x{n_layers}")
    w.add_context_length(CTX)
    w.add_embedding_length(h)
    w.add_block_count(n_layers)
    w.add_feed_forward_length(ffn)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_rope_dimension_count(hd)
    w.add_rope_freq_base(ROPE_THETA)
    w.add_layer_norm_rms_eps(NORM_EPS)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    w.add_vocab_size(vocab)
    w.add_tokenizer_model("none")  # no tokenizer: llama-bench feeds token ids only

    # shapes as numpy (rows, cols) = torch's (out, in); gguf reverses them in the header
    specs = [("token_embd.weight", (vocab, h)), ("output_norm.weight", (h,))]
    for i in range(n_layers):
        b = f"blk.{i}."
        specs += [(b + "attn_norm.weight", (h,)), (b + "attn_q.weight", (heads * hd, h)),
                  (b + "attn_k.weight", (kv * hd, h)), (b + "attn_v.weight", (kv * hd, h)),
                  (b + "attn_output.weight", (h, heads * hd)), (b + "ffn_norm.weight", (h,)),
                  (b + "ffn_gate.weight", (ffn, h)), (b + "ffn_up.weight", (ffn, h)),
                  (b + "ffn_down.weight", (h, ffn))]
    for name, s in specs:  # norms stay F32 (as the converter writes them), matrices F16
        w.add_tensor_info(name, s, np.dtype(np.float32 if len(s) == 1 else np.float16),
                          int(np.prod(s)) * (4 if len(s) == 1 else 2))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for name, s in specs:
        w.write_tensor_data(np.ones(s, np.float32) if len(s) == 1 else _Random(s))
    w.close()
    return os.path.getsize(path)


def quantize(src, dst, qtype: str, cache_dir=None, threads: int = 2) -> int:
    """``llama-quantize src dst QTYPE`` (e.g. Q8_0, Q4_K_M); returns the size in bytes."""
    exe = ensure_llamacpp(cache_dir)["quantize"]
    subprocess.run([str(exe), str(src), str(dst), qtype, str(threads)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return os.path.getsize(dst)


def bench(path, threads: int = 2, n: int = 64, reps: int = 3, cache_dir=None) -> float:
    """Decode tok/s from ``llama-bench -p 0 -n N -t threads -o json``: the best of ``reps``
    (as llasa's rows in bench/cpu.py; on a shared machine the least disturbed run)."""
    exe = ensure_llamacpp(cache_dir)["bench"]
    out = subprocess.run([str(exe), "-m", str(path), "-p", "0", "-n", str(n), "-t",
                          str(threads), "-r", str(reps), "-o", "json"], check=True,
                         capture_output=True, text=True).stdout
    rows = json.loads(out)
    row = next(r for r in rows if r.get("n_gen") == n)
    return float(max(row.get("samples_ts") or [row["avg_ts"]]))


def bench_prompt(path, prompt: int, threads: int = 2, reps: int = 3, cache_dir=None) -> float:
    """Prompt-processing tok/s from ``llama-bench -p P -n 0`` (best of ``reps``): a prefill of
    ``prompt`` tokens takes ``prompt / this`` seconds.

    On an AVX512-VNNI/AMX Xeon this llama.cpp's repacked Q8_0/Q4_K batch kernels crash
    (SIGILL / SIGSEGV, decoding is not affected); there the prompt is timed with ``--repack 0``.
    """
    exe = ensure_llamacpp(cache_dir)["bench"]
    cmd = [str(exe), "-m", str(path), "-p", str(prompt), "-n", "0", "-t", str(threads), "-r",
           str(reps), "-o", "json"]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        run = subprocess.run(cmd + ["--repack", "0"], check=True, capture_output=True, text=True)
    row = next(r for r in json.loads(run.stdout) if r.get("n_prompt") == prompt)
    return float(max(row.get("samples_ts") or [row["avg_ts"]]))


def cpu_info() -> str:
    """The CPU's model, cores and the SIMD flags that matter (llasa's own reader)."""
    from llasa._common.cpu import cpu_info as info

    return info(with_torch=False).summary()


def _load1() -> float:
    """1-minute load average: other processes on the cores make these numbers noisy."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="1b", choices=sorted(PRESETS))
    ap.add_argument("--quants", default="f16,q8_0,q4_k_m",
                    help=f"comma list of {', '.join(QUANTS)}")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--new-tokens", "-n", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3, help="llama-bench -r (averaged)")
    ap.add_argument("--repeats", type=int, default=1,
                    help="run the whole quant list this many times (rounds interleave)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache-dir", default=None, help="default: $LLASA_LLAMACPP_DIR or "
                    f"~/.cache/llasa/llama.cpp-{VERSION}")
    ap.add_argument("--keep", action="store_true", help="keep the GGUFs in the cache dir")
    a = ap.parse_args(argv)
    quants = [q.strip().lower() for q in a.quants.split(",") if q.strip()]
    for q in quants:
        if q not in QUANTS:
            ap.error(f"unknown quant {q!r}; known: {', '.join(QUANTS)}")

    paths = ensure_llamacpp(a.cache_dir)
    cache = paths["src"].parent
    workdir = cache / "gguf" if a.keep else Path(tempfile.mkdtemp(prefix="llasa-gguf-"))
    workdir.mkdir(parents=True, exist_ok=True)
    files, sizes = {}, {}
    try:
        f16 = workdir / f"{a.preset}-s{a.seed}-f16.gguf"
        if not f16.exists():
            t = time.perf_counter()
            write_gguf(f16, PRESETS[a.preset], a.seed, cache_dir=a.cache_dir)
            _log(f"wrote {f16.name} in {time.perf_counter() - t:.0f} s")
        files["f16"], sizes["f16"] = f16, f16.stat().st_size
        for q in quants:
            if QUANTS[q] is None:
                continue
            dst = workdir / f"{a.preset}-s{a.seed}-{q}.gguf"
            if not dst.exists():
                t = time.perf_counter()
                quantize(f16, dst, QUANTS[q], a.cache_dir, threads=a.threads)
                _log(f"quantized {QUANTS[q]} in {time.perf_counter() - t:.0f} s")
            files[q], sizes[q] = dst, dst.stat().st_size
        results = {q: [] for q in quants}
        for r in range(a.repeats):
            for q in quants:
                load = _load1()
                ts = bench(files[q], a.threads, a.new_tokens, a.reps, a.cache_dir)
                load = max(load, _load1())
                _log(f"round {r + 1}: {q} {ts:.2f} tok/s (load average {load:.1f})")
                results[q].append((ts, load))
    finally:
        if not a.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    h, n_layers, heads, kv, ffn = PRESETS[a.preset]
    print(f"CPU: {cpu_info()}")
    print(f"llama.cpp (llama-cpp-python {VERSION} vendor), llama-bench -p 0 -n {a.new_tokens} "
          f"-t {a.threads} -r {a.reps}; preset {a.preset}: hidden {h}, {n_layers} layers, "
          f"{heads}/{kv} heads, ffn {ffn}, vocab {VOCAB}, tied; batch 1; 'load' is the higher "
          f"1-min load average before/after each run ({os.cpu_count()} CPUs)\n")
    runs = " | ".join(f"run {i + 1} tok/s" for i in range(a.repeats))
    print(f"| quant | GGUF MiB | {runs} |")
    print("|---|---:|" + "---:|" * a.repeats)
    for q in quants:
        cells = " | ".join(f"{t:.2f} (load {ld:.1f})" for t, ld in results[q])
        print(f"| {q.upper()} | {sizes[q] / 2**20:.0f} | {cells} |")


if __name__ == "__main__":
    main()
