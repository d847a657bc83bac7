"""GPU benchmark (issue 22): Llasa-1B shape on one GPU, in one run of about 5-8 minutes.

Models: the Llasa-1B shape (hidden 2048, 16 layers, 32/8 heads, ffn 8192, vocab 193 800, tied)
with random weights in bf16, and the official X-codec2 shape with seeded weights (decoder only).
Random weights run exactly the computation of the released ones; with them END is rare, so
every request runs to its token cap (steady load).

1. batch 1: HF ``generate`` (the model card's call) vs llasa ``generate`` vs llasa's
   continuous batcher (static KV cache, CUDA graphs, on-device sampling): tokens/s;
2. codec: streaming windows (175 codes → 1 s of audio emitted) decoded in batches of 1-64;
3. the real server (``create_app`` + uvicorn on 127.0.0.1, continuous scheduler) with N
   concurrent streaming clients (a separate process, bench/_streams.py): aggregate tokens/s
   and p50/p99 time to first audio at each N;
4. GPU memory: peak allocated per phase, and in use on the device.

Writes ``gpu.json`` and ``gpu.md`` to ``--out`` (default ``$OUT``, else the current directory).
``--smoke`` runs the same code on CPU with tiny models in about a minute (CI runs it).

    python bench/gpu.py                     # on the GPU machine
    python bench/gpu.py --smoke --out /tmp/g
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
TEXT = "The quick brown fox jumps over the lazy dog, and then it runs far away."
FULL = dict(preset="1b", dtype="bf16", device="cuda", new_tokens=256, levels="1,8,32,64,128",
            seconds=20.0, tokens=250, codec_batches="1,8,32,64", max_batch=128, codec_every=4,
            fast_levels="1,64", first_chunk=10)
SMOKE = dict(preset="tiny", dtype="fp32", device="cpu", new_tokens=16, levels="1,2",
             seconds=1.5, tokens=30, codec_batches="1,2", max_batch=4, codec_every=1,
             fast_levels="1", first_chunk=10)


def build_lm(preset: str, dtype: str, device: str):
    sys.path.insert(0, str(HERE))
    from lm import build  # bench/lm.py: Llasa id layout, random N(0, 0.02) weights

    from llasa.lm import LlasaLM

    cpu = build(preset, {"bf16": torch.bfloat16, "fp32": torch.float32}[dtype])
    return LlasaLM(cpu.model, cpu.tokenizer, device=device, dtype=dtype)


def build_codec(smoke: bool, device: str):
    from llasa.codec import Codec, presets

    cfg = presets.tiny() if smoke else presets.full()
    return Codec.from_config(cfg, seed=0, device=device, decode_only=True)


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def mem_gib() -> dict:
    if not torch.cuda.is_available():
        return {}
    free, total = torch.cuda.mem_get_info()
    return {"peak_allocated_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
            "device_used_gib": round((total - free) / 2**30, 2),
            "device_total_gib": round(total / 2**30, 1)}


def batch1(lm, n: int, device: str) -> list[dict]:
    """Tokens/s at batch 1: HF generate, llasa generate, llasa continuous batcher."""
    from llasa.lm import GenerationSettings
    from llasa.lm.batcher import BatchRequest, ContinuousBatcher

    ids = lm.build_prompt(TEXT)
    v = lm.vocab
    cb = ContinuousBatcher(lm, max_rows=1, capacity=len(ids) + n + 8)

    def hf(k):
        with torch.inference_mode():
            out = lm.model.generate(torch.tensor([ids], device=device), do_sample=True,
                                    temperature=0.8, top_p=1.0, top_k=50, max_new_tokens=k,
                                    min_new_tokens=k, eos_token_id=v.speech_end,
                                    pad_token_id=v.speech_end)
        return out.shape[1] - len(ids)

    def ours(k):
        return lm.generate([ids], GenerationSettings(seed=0, max_new_tokens=k))[0][0].num_tokens

    def cont(k):
        r = cb.submit(BatchRequest(ids, GenerationSettings(seed=0, max_new_tokens=k)))
        while not r.done:
            cb.step()
        return r.num_tokens()

    rows = []
    graphs = "static cache, CUDA graphs" if cb._static is not None else "row cache"
    for name, fn in [("HF generate", hf), ("llasa generate (eager)", ours),
                     (f"llasa continuous batcher ({graphs})", cont)]:
        try:
            fn(8)  # warm-up: kernels, allocator, graph capture
            sync(device)
            t = time.perf_counter()
            k = fn(n)
            sync(device)
        except Exception as e:  # noqa: BLE001 - keep the other methods' figures
            rows.append({"method": name, "tokens": 0, "wall_s": None, "tok_s": None,
                         "error": repr(e)})
            print(f"  {name} failed: {e!r}", file=sys.stderr, flush=True)
            continue
        wall = time.perf_counter() - t
        rows.append({"method": name, "tokens": int(k), "wall_s": round(wall, 3),
                     "tok_s": round(k / wall, 1)})
        print(f"  {name}: {k / wall:.1f} tok/s", file=sys.stderr, flush=True)
    hf_tps = rows[0]["tok_s"]
    for r in rows:
        r["vs_hf"] = round(r["tok_s"] / hf_tps, 2) if r["tok_s"] and hf_tps else None
    return rows


def codec_bench(codec, batches: list[int], device: str) -> list[dict]:
    """Streaming windows (left 100 + chunk 50 + lookahead 25 codes) decoded in batches."""
    import numpy as np

    from llasa.codec.stream_windows import decode_windows

    rng = np.random.default_rng(0)
    rows = []
    for b in batches:
        wins = [rng.integers(0, codec.codebook_size, 175) for _ in range(b)]
        decode_windows(codec, wins)  # warm-up
        sync(device)
        reps = 3
        t = time.perf_counter()
        for _ in range(reps):
            decode_windows(codec, wins)
        sync(device)
        wall = (time.perf_counter() - t) / reps
        rows.append({"windows": b, "ms_per_call": round(wall * 1000, 1),
                     "window_codes_per_s": round(b * 175 / wall),
                     "audio_s_per_s": round(b * 1.0 / wall, 1)})  # each window emits 1 s
        print(f"  codec batch {b}: {wall * 1000:.1f} ms", file=sys.stderr, flush=True)
    return rows


def serve_levels(lm, codec, cfg: dict, tmp: Path, levels: str, first_chunk: int = 0
                 ) -> list[dict]:
    """The real app on 127.0.0.1 in this process; clients in a subprocess."""
    import socket

    import httpx
    import uvicorn

    from llasa.serve import LlasaEngine, ServeSettings, create_app
    from llasa.tts import Llasa

    tts = Llasa(lm, codec)
    settings = ServeSettings(data_dir=tmp / f"data{first_chunk}", max_batch=cfg["max_batch"],
                             max_queue=4 * cfg["max_batch"], scheduler="continuous",
                             codec_every=cfg["codec_every"], stream_first_chunk=first_chunk,
                             max_new_tokens=max(cfg["tokens"], 64), request_timeout_s=600)
    app = create_app(LlasaEngine(tts, settings), settings)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    url = f"http://127.0.0.1:{port}"
    while not server.started:
        time.sleep(0.05)
    rows = []
    try:
        for n in [int(x) for x in levels.split(",") if x]:
            out = tmp / f"level{n}-{first_chunk}.json"
            proc = subprocess.run([sys.executable, str(HERE / "_streams.py"), url, "--levels",
                                   str(n), "--seconds", str(cfg["seconds"]), "--tokens",
                                   str(cfg["tokens"]), "--out", str(out)])
            if proc.returncode:
                rows.append({"streams": n, "error": f"client exited {proc.returncode}"})
                continue
            row = json.loads(out.read_text())[0]
            row["first_chunk"] = first_chunk or "standard (75)"
            row.update(mem_gib())
            row["load_avg"] = round(os.getloadavg()[0], 1)
            rows.append(row)
            print(f"  {n} streams: {row['agg_tok_s']} tok/s, first audio p50 "
                  f"{row['first_audio_p50_ms']} ms p99 {row['first_audio_p99_ms']} ms",
                  file=sys.stderr, flush=True)
        rows and rows[-1].update({"worker": httpx.get(url + "/health").json()["worker"]})
    finally:
        server.should_exit = True
        th.join(30)
    return rows


def table(rows: list[dict], cols: list[str]) -> str:
    head = "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n"
    return head + "".join("| " + " | ".join(str(r.get(c, "")) for c in cols) + " |\n"
                          for r in rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny models on CPU (CI check)")
    ap.add_argument("--out", default=os.environ.get("OUT", "."))
    ap.add_argument("--graphs", choices=["on", "off"], default="on",
                    help="CUDA graphs in the batcher (off: LLASA_CUDA_GRAPHS=0, eager steps)")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch CPU threads (0: torch's default; --smoke: 1)")
    for k, v in FULL.items():
        ap.add_argument("--" + k.replace("_", "-"), type=type(v), default=None)
    a = ap.parse_args(argv)
    cfg = dict(SMOKE if a.smoke else FULL)
    cfg.update({k: getattr(a, k) for k in FULL if getattr(a, k) is not None})
    if cfg["device"] == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run on the GPU machine, or use --smoke")
    os.environ["LLASA_CUDA_GRAPHS"] = "1" if a.graphs == "on" else "0"
    if a.threads or a.smoke:  # tiny models on a shared CPU: one thread is fastest
        torch.set_num_threads(a.threads or 1)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    import transformers

    env = {"torch": torch.__version__, "transformers": transformers.__version__,
           "python": platform.python_version(), "cpus": os.cpu_count(),
           "device": torch.cuda.get_device_name() if cfg["device"] == "cuda" else "cpu",
           "cuda": torch.version.cuda, "load_avg_start": round(os.getloadavg()[0], 1)}
    print(f"{env}\n{cfg}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    res: dict = {"env": env, "config": {**cfg, "graphs": a.graphs}}

    def phase(name, fn, *args):
        """Run one phase; a failure is recorded and the run goes on. Results are written after
        every phase, so a run cut short by its time limit still leaves what it measured."""
        print(f"{name}…", file=sys.stderr, flush=True)
        try:
            res[name] = fn(*args)
        except Exception as e:  # noqa: BLE001 - one GPU session: keep the other phases
            import traceback

            res[name] = {"error": repr(e), "traceback": traceback.format_exc()[-3000:]}
            print(f"{name} failed: {e!r}", file=sys.stderr, flush=True)
        res["elapsed_s"] = round(time.perf_counter() - t0, 1)
        write(out, res)

    lm = build_lm(cfg["preset"], cfg["dtype"], cfg["device"])
    codec = build_codec(a.smoke, cfg["device"])
    res["build_s"] = round(time.perf_counter() - t0, 1)
    phase("batch1", batch1, lm, cfg["new_tokens"], cfg["device"])
    res["batch1_memory"] = mem_gib()
    phase("codec", codec_bench, codec, [int(x) for x in cfg["codec_batches"].split(",")],
          cfg["device"])
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as tmp:
        phase("serve", serve_levels, lm, codec, cfg, Path(tmp), cfg["levels"])
        if cfg["fast_levels"] and cfg["first_chunk"]:  # streams' first window shortened
            phase("serve_first_chunk", serve_levels, lm, codec, cfg, Path(tmp),
                  cfg["fast_levels"], cfg["first_chunk"])
    res["total_s"] = round(time.perf_counter() - t0, 1)
    print(write(out, res))


def write(out: Path, res: dict) -> str:
    """gpu.json and gpu.md from what is measured so far; returns the markdown."""
    (out / "gpu.json").write_text(json.dumps(res, indent=1))
    cfg, env = res["config"], res["env"]

    def part(name, cols):
        r = res.get(name)
        if r is None:
            return "not run\n"
        if isinstance(r, dict):
            return f"failed: `{r['error']}` (traceback in gpu.json)\n"
        return table(r, cols)

    md = (f"# bench/gpu.py\n\n{env}\n\nLLM preset {cfg['preset']} {cfg['dtype']} on "
          f"{cfg['device']}; build {res.get('build_s')} s; elapsed {res.get('elapsed_s')} s\n\n"
          f"## Batch 1, {cfg['new_tokens']} new tokens\n\n"
          + part("batch1", ["method", "tokens", "wall_s", "tok_s", "vs_hf"])
          + f"\nmemory: {res.get('batch1_memory')}\n\n## Codec, streaming windows of 175 codes"
            "\n\n"
          + part("codec", ["windows", "ms_per_call", "window_codes_per_s", "audio_s_per_s"])
          + f"\n## Server, {cfg['tokens']} tokens per streaming request, {cfg['seconds']} s "
            "per level\n\n")
    cols = ["streams", "first_chunk", "ok", "errors", "agg_tok_s", "per_stream_tok_s",
            "realtime_streams", "first_audio_p50_ms", "first_audio_p99_ms",
            "peak_allocated_gib", "device_used_gib", "load_avg"]
    md += part("serve", cols)
    if "serve_first_chunk" in res:
        md += "\nShort first window:\n\n" + part("serve_first_chunk", cols)
    (out / "gpu.md").write_text(md)
    return md


if __name__ == "__main__":
    os.environ.setdefault("LLASA_QUIET", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
