"""Load test of ``llasa serve`` on loopback: N concurrent clients against the tiny model.

Starts the real server (``python -m llasa.cli serve``) on 127.0.0.1 with a tiny random-weight
LM + codec saved to a temp dir, once per configuration (``--max-batch`` values are compared in
the same run: one request at a time vs batching), then for each:

1. ``speech``: N clients send non-streaming requests back to back for ``--seconds``;
2. ``stream``: N clients send streaming requests (time to first audio byte);
3. ``overload``: 4N clients at once against a queue of ``--max-queue`` (how many get 429).

Prints a markdown table: requests/s, p50/p99 latency, p50/p99 time to first byte (stream),
200/429/5xx counts, audio seconds generated per wall second, server RSS before/after.
Everything is bounded (client count, time, token cap) and talks only to 127.0.0.1.

    python bench/serve.py                       # 4 clients, 15 s per phase, ~3 min
    python bench/serve.py --clients 8 --seconds 30 --max-batch 1,4,8

``--streams 1,4,8`` instead compares the schedulers (``--schedulers continuous,batch``) in the
same run: N concurrent streaming clients (bench/_streams.py) per level, aggregate speech
tokens/s and p50/p99 time to first audio, continuous ÷ batch ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import psutil

TEXTS = ["Hello there, how are you today?", "The quick brown fox jumps over the lazy dog.",
         "Serving speech to many clients at once.", "Numbers like twelve and forty two."]


def build_model(root: Path) -> None:
    from llasa.codec import presets
    from llasa.codec.model import Codec
    from llasa.lm.tiny import tiny_lm

    tiny_lm(codebook_size=65536, seed=0).save_pretrained(root / "lm")
    Codec.from_config(presets.tiny(), seed=0).save_pretrained(root / "codec")


def start_server(root: Path, max_batch: int, max_queue: int, tokens: int,
                 scheduler: str = "continuous", threads: int = 0):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "llasa.cli", "serve", "--port", str(port), "--lm",
           str(root / "lm"), "--codec", str(root / "codec"), "--device", "cpu", "--data-dir",
           str(root / "data"), "--max-batch", str(max_batch), "--max-queue", str(max_queue),
           "--max-new-tokens", str(max(tokens, 100)), "--log-level", "error",
           "--scheduler", scheduler]
    env = dict(os.environ, HF_HUB_OFFLINE="1", LLASA_QUIET="1", TOKENIZERS_PARALLELISM="false")
    if threads:  # torch's intra-op threads in the server
        env["OMP_NUM_THREADS"] = str(threads)
    # The server's log goes to a file: an unread pipe would fill up and block the server.
    log = open(root / f"server-{scheduler}-batch{max_batch}.log", "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("server exited: " + log.name)
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start in 180 s")


def rss_mib(proc) -> float:
    return psutil.Process(proc.pid).memory_info().rss / 2**20


async def client_loop(c, url, body, stop_at, out, stream, once=False):
    i = 0
    while once or time.monotonic() < stop_at:
        once = False
        b = dict(body, input=TEXTS[i % len(TEXTS)])
        i += 1
        t0 = time.monotonic()
        ttfb = None
        try:
            if stream:
                async with c.stream("POST", url + "/v1/audio/speech", json=b) as r:
                    n = 0
                    async for chunk in r.aiter_raw():
                        if ttfb is None and r.status_code == 200 and len(chunk) > 44:
                            ttfb = time.monotonic() - t0
                        n += len(chunk)
                    status, nbytes = r.status_code, n
            else:
                r = await c.post(url + "/v1/audio/speech", json=b)
                status, nbytes = r.status_code, len(r.content)
        except httpx.HTTPError as e:
            status, nbytes = f"error:{type(e).__name__}", 0
        out.append((status, time.monotonic() - t0, ttfb, nbytes))


async def phase(url, clients, seconds, body, stream=False, burst=False):
    out: list = []
    limits = httpx.Limits(max_connections=clients * 4 + 4)
    async with httpx.AsyncClient(timeout=300, limits=limits) as c:
        t0 = time.monotonic()
        stop = t0 + (0 if burst else seconds)  # a burst sends exactly one request per client
        await asyncio.gather(*(client_loop(c, url, body, stop, out, stream, once=burst)
                               for _ in range(clients)))
        wall = time.monotonic() - t0
    return out, wall


def summarize(name, cfg, out, wall, rss0, rss1):
    ok = [o for o in out if o[0] == 200]
    lat = np.array([o[1] for o in ok]) if ok else np.array([np.nan])
    ttfb = np.array([o[2] for o in ok if o[2] is not None]) if ok else np.array([])
    n5xx = sum(1 for o in out if isinstance(o[0], int) and o[0] >= 500)
    n429 = sum(1 for o in out if o[0] == 429)
    other = sum(1 for o in out if o[0] not in (200, 429) and not (
        isinstance(o[0], int) and o[0] >= 500))
    audio_s = sum(max(o[3] - 44, 0) / 32000 for o in ok)  # 16-bit mono at 16 kHz

    def q(a, p):
        return f"{np.percentile(a, p):.2f}" if len(a) else "-"

    return (f"| {name} | {cfg} | {len(out)} | {len(ok) / wall:.2f} | {q(lat, 50)} | {q(lat, 99)} "
            f"| {q(ttfb, 50)} | {q(ttfb, 99)} | {len(ok)} | {n429} | {n5xx} | {other} "
            f"| {audio_s / wall:.1f} | {rss0:.0f} → {rss1:.0f} |")


def compare_streams(root: Path, args) -> None:
    """Continuous vs batch scheduler at each ``--streams`` level, one table."""
    from _streams import run_levels

    levels = [int(x) for x in args.streams.split(",")]
    res: dict = {}
    for rnd in range(args.rounds):  # schedulers alternate; the best round of each is kept
        for sched in args.schedulers.split(","):
            print(f"round {rnd + 1}, {sched} scheduler…", file=sys.stderr, flush=True)
            proc, url = start_server(root, max(levels), max(levels) * 2, args.tokens, sched,
                                     args.server_threads)
            try:
                rows = run_levels(url, levels, args.seconds, args.tokens)
            finally:
                proc.terminate()
                proc.wait(20)
            best = res.setdefault(sched, rows)
            res[sched] = [max(a, b, key=lambda r: r["agg_tok_s"]) for a, b in zip(best, rows)]
    print(f"\nllasa serve on 127.0.0.1, tiny random LM + codec, {args.tokens} tokens per "
          f"streaming request, {args.seconds:g} s per level, best of {args.rounds} "
          f"alternating rounds, server threads {args.server_threads or 'default'}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end\n")
    print("| scheduler | streams | requests ok | errors | aggregate tok/s | tok/s per stream "
          "| first audio p50 ms | first audio p99 ms |")
    print("|---|---|---|---|---|---|---|---|")
    for sched, rows in res.items():
        for r in rows:
            print(f"| {sched} | {r['streams']} | {r['ok']} | {r['errors']} | {r['agg_tok_s']} "
                  f"| {r['per_stream_tok_s']} | {r['first_audio_p50_ms']} "
                  f"| {r['first_audio_p99_ms']} |")
    if {"continuous", "batch"} <= set(res):
        print("\n| streams | aggregate tok/s, continuous ÷ batch | first audio p50, batch ÷ "
              "continuous |\n|---|---|---|")
        for c, b in zip(res["continuous"], res["batch"]):
            p50 = (f"{b['first_audio_p50_ms'] / c['first_audio_p50_ms']:.2f}x"
                   if c["first_audio_p50_ms"] and b["first_audio_p50_ms"] else "-")
            print(f"| {c['streams']} | {c['agg_tok_s'] / max(b['agg_tok_s'], 1e-9):.2f}x "
                  f"| {p50} |")


def main():
    from llasa._common.cpu import cpu_info  # every benchmark names its CPU

    print(f"CPU: {cpu_info(with_torch=False).summary()}", flush=True)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--tokens", type=int, default=100, help="speech tokens per request (50 = 1 s)")
    ap.add_argument("--max-batch", default="1,4", help="server batch sizes to compare")
    ap.add_argument("--max-queue", type=int, default=4)
    ap.add_argument("--streams", default="", help="e.g. 1,4,8: compare schedulers on streams")
    ap.add_argument("--schedulers", default="continuous,batch")
    ap.add_argument("--rounds", type=int, default=1, help="--streams: alternating rounds")
    ap.add_argument("--server-threads", type=int, default=0, help="OMP threads (0: default)")
    args = ap.parse_args()
    if not 1 <= args.clients <= 64 or not 1 <= args.seconds <= 300:
        raise SystemExit("keep --clients in 1..64 and --seconds in 1..300")
    body = {"model": "llasa", "voice": "default", "response_format": "wav",
            "duration": args.tokens / 50}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build_model(root)
        if args.streams:
            compare_streams(root, args)
            return
        configs = [(sc, int(x)) for sc in args.schedulers.split(",")
                   for x in args.max_batch.split(",")]
        for sched, mb in configs:
            print(f"server, {sched} scheduler, max_batch={mb}…", file=sys.stderr, flush=True)
            proc, url = start_server(root, mb, args.max_queue, args.tokens, sched)
            try:
                cfg = f"{sched}, batch≤{mb}, queue {args.max_queue}"
                rss0 = rss_mib(proc)
                print("  speech phase…", file=sys.stderr, flush=True)
                out, wall = asyncio.run(phase(url, args.clients, args.seconds, body))
                rows.append(summarize("speech", cfg, out, wall, rss0, rss_mib(proc)))
                rss0 = rss_mib(proc)
                sbody = dict(body, stream=True)
                sbody["max_new_tokens"] = sbody.pop("duration") and args.tokens
                print("  stream phase…", file=sys.stderr, flush=True)
                out, wall = asyncio.run(phase(url, args.clients, args.seconds, sbody, True))
                rows.append(summarize("stream", cfg, out, wall, rss0, rss_mib(proc)))
                rss0 = rss_mib(proc)
                print("  overload phase…", file=sys.stderr, flush=True)
                out, wall = asyncio.run(phase(url, args.clients * 4, 0, body, burst=True))
                rows.append(summarize("overload", cfg, out, wall, rss0, rss_mib(proc)))
                health = httpx.get(url + "/health").json()
                rows.append(f"| (worker) | {cfg} | batches {health['worker']['batches']}, "
                            f"largest {health['worker']['largest_batch']}, failed "
                            f"{health['worker']['failed']} | | | | | | | | | | | |")
            finally:
                proc.terminate()
                proc.wait(20)
    print(f"\nllasa serve on 127.0.0.1, tiny random LM + codec, {args.clients} clients, "
          f"{args.tokens} tokens ({args.tokens / 50:g} s audio) per request, "
          f"{os.cpu_count()} CPUs\n")
    print("| phase | server | requests | ok req/s | p50 s | p99 s | TTFB p50 s | TTFB p99 s "
          "| 200 | 429 | 5xx | other | audio s/s | RSS MiB before → after |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
