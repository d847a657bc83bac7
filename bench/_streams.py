"""Shared by bench/serve.py and bench/gpu.py: N concurrent streaming clients against a running
``llasa serve`` on 127.0.0.1; aggregate speech tokens/s and first-audio latency percentiles.

Each client sends streaming requests (raw PCM) back to back for ``seconds``; a request's tokens
are its samples / 320, its first audio is the time to the first body bytes. Before the
measured window every client sends one short request at once (warms up the server's batch
shapes, e.g. CUDA-graph captures). Run as a script it measures several levels and writes JSON
(bench/gpu.py runs it in its own process so the clients do not share the server's GIL):

    python bench/_streams.py http://127.0.0.1:8000 --levels 1,8 --seconds 10 --tokens 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import httpx
import numpy as np

TEXTS = ["Hello there, how are you today?", "The quick brown fox jumps over the lazy dog.",
         "Serving speech to many clients at once.", "Numbers like twelve and forty two."]
HOP = 320


async def _one(c, url, text, tokens):
    body = {"model": "llasa", "input": text, "voice": "default", "stream": True,
            "response_format": "pcm", "max_new_tokens": tokens}
    t0 = time.monotonic()
    first, n = None, 0
    try:
        async with c.stream("POST", url + "/v1/audio/speech", json=body) as r:
            async for chunk in r.aiter_raw():
                if first is None and chunk:
                    first = time.monotonic() - t0
                n += len(chunk)
            status = r.status_code
    except httpx.HTTPError as e:
        status = f"error:{type(e).__name__}"
    return {"status": status, "first": first, "tokens": n // 2 // HOP,
            "end": time.monotonic(), "wall": time.monotonic() - t0}


async def level(url: str, clients: int, seconds: float, tokens: int,
                warmup_tokens: int = 16) -> dict:
    """Measure one concurrency level; returns a dict of figures (latencies in ms)."""
    limits = httpx.Limits(max_connections=clients + 4)
    async with httpx.AsyncClient(timeout=600, limits=limits) as c:
        await asyncio.gather(*(_one(c, url, TEXTS[i % 4], warmup_tokens)
                               for i in range(clients)))
        out: list[dict] = []
        t0 = time.monotonic()
        stop = t0 + seconds

        async def client(i):
            k = 0
            while time.monotonic() < stop:
                out.append(await _one(c, url, TEXTS[(i + k) % 4], tokens))
                k += 1

        await asyncio.gather(*(client(i) for i in range(clients)))
        wall = time.monotonic() - t0
    ok = [o for o in out if o["status"] == 200]
    first = np.array([o["first"] for o in ok if o["first"] is not None]) * 1000
    toks = sum(o["tokens"] for o in ok)

    def q(p):
        return round(float(np.percentile(first, p)), 1) if len(first) else None

    return {"streams": clients, "requests": len(out), "ok": len(ok),
            "errors": len(out) - len(ok), "tokens": toks, "wall_s": round(wall, 2),
            "agg_tok_s": round(toks / wall, 1), "per_stream_tok_s": round(toks / wall / clients, 1),
            "first_audio_p50_ms": q(50), "first_audio_p99_ms": q(99),
            "realtime_streams": round(toks / wall / 50, 1)}


def run_levels(url: str, levels: list[int], seconds: float, tokens: int) -> list[dict]:
    rows = []
    for n in levels:
        print(f"  {n} streams…", file=sys.stderr, flush=True)
        rows.append(asyncio.run(level(url, n, seconds, tokens)))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("url")
    ap.add_argument("--levels", default="1,8")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--out", default=None, help="JSON file (default: stdout)")
    a = ap.parse_args()
    rows = run_levels(a.url, [int(x) for x in a.levels.split(",")], a.seconds, a.tokens)
    text = json.dumps(rows, indent=1)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
