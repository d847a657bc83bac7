"""The continuous-batching worker behind a real uvicorn server on 127.0.0.1 (tiny model):
concurrent streams join one running batch, each gets the audio it would get alone, and a
client that hangs up leaves the others undisturbed."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import numpy as np

from llasa.serve.formats import pcm16

GREEDY = {"do_sample": False, "repetition_penalty": 1.3}
TEXTS = ["First stream here.", "The second stream, a bit longer.", "Third."]


def _body(text, tokens, **kw):
    return {"model": "llasa", "input": text, "stream": True, "stream_format": "sse",
            "max_new_tokens": tokens, **GREEDY, **kw}


async def _sse(c, url, body, delay=0.0, hang_up_after=None):
    """PCM16 samples and the final event of one SSE stream (None if we hung up)."""
    await asyncio.sleep(delay)
    pcm, done = [], None
    async with c.stream("POST", url + "/v1/audio/speech", json=body) as r:
        assert r.status_code == 200
        async for line in r.aiter_lines():
            if not line.startswith("data: "):
                continue
            ev = json.loads(line[6:])
            if ev["type"] == "speech.audio.delta":
                pcm.append(np.frombuffer(base64.b64decode(ev["audio"]), "<i2"))
                if hang_up_after is not None and len(pcm) >= hang_up_after:
                    return np.concatenate(pcm), None
            elif ev["type"] == "speech.audio.done":
                done = ev
    return np.concatenate(pcm), done


def _alone(tts, text, tokens):
    return np.frombuffer(pcm16(np.concatenate(list(
        tts.stream(text, max_new_tokens=tokens, **GREEDY)))), "<i2")


def test_staggered_streams_share_the_batch_and_equal_alone(thread_server, tiny_tts):
    tokens = [110, 140, 90]
    with thread_server(max_batch=4, scheduler="continuous") as srv:
        async def main():
            async with httpx.AsyncClient(timeout=120) as c:
                return await asyncio.gather(*(_sse(c, srv.url, _body(t, n), delay=0.15 * i)
                                              for i, (t, n) in enumerate(zip(TEXTS, tokens))))
        res = asyncio.run(main())
        health = httpx.get(srv.url + "/health").json()["worker"]
    assert health["completed"] == 3 and health["failed"] == 0 and health["steps"] > 0
    # the later streams joined while the first was decoding
    assert max(done["info"]["batch_size"] for _, done in res) >= 2
    for (pcm, done), text, n in zip(res, TEXTS, tokens):
        assert done["info"]["continuous"] and done["info"]["tokens"] == n
        ref = _alone(tiny_tts, text, n)
        assert pcm.shape == ref.shape
        assert np.abs(pcm.astype(int) - ref).max() <= 1  # float rounding → at most 1 LSB


def test_client_that_hangs_up_frees_its_row_only(thread_server, tiny_tts):
    with thread_server(max_batch=4, scheduler="continuous") as srv:
        async def main():
            async with httpx.AsyncClient(timeout=120) as c:
                return await asyncio.gather(
                    _sse(c, srv.url, _body(TEXTS[0], 300), hang_up_after=1),
                    _sse(c, srv.url, _body(TEXTS[1], 120), delay=0.1))
        (_, gone), (pcm, done) = asyncio.run(main())
        for _ in range(100):  # the worker notices the hang-up at its next step
            w = httpx.get(srv.url + "/health").json()["worker"]
            if w["cancelled"]:
                break
            asyncio.run(asyncio.sleep(0.05))
    assert gone is None and w["cancelled"] == 1 and w["completed"] == 1 and w["running"] == 0
    ref = _alone(tiny_tts, TEXTS[1], 120)
    assert pcm.shape == ref.shape and np.abs(pcm.astype(int) - ref).max() <= 1


def test_whole_requests_and_seeded_requests_join_too(thread_server):
    with thread_server(max_batch=4, scheduler="continuous") as srv:
        async def main():
            async with httpx.AsyncClient(timeout=120) as c:
                async def one(i, seed):
                    await asyncio.sleep(0.1 * i)
                    b = {"model": "llasa", "input": TEXTS[i], "max_new_tokens": 60,
                         "seed": seed, "response_format": "pcm"}
                    r = await c.post(srv.url + "/v1/audio/speech", json=b)
                    return r.status_code, r.content, json.loads(r.headers["X-Llasa-Info"])
                return await asyncio.gather(*(one(i, 7) for i in range(3)))
        first = asyncio.run(main())
        again = asyncio.run(main())
    assert all(s == 200 for s, _, _ in first)
    assert max(i["batch_size"] for _, _, i in first) >= 2
    for (_, a, _), (_, b, _) in zip(first, again):  # seeded: the same audio in any batch
        assert a == b and len(a) == 2 * 320 * 60


def test_first_chunk_setting_streams_early(thread_server):
    with thread_server(max_batch=2, scheduler="continuous", stream_first_chunk=10) as srv:
        async def main():
            async with httpx.AsyncClient(timeout=120) as c:
                return await _sse(c, srv.url, _body(TEXTS[0], 40))
        pcm, done = asyncio.run(main())
    # standard windows would hold all 40 codes back for one final window (75 > 40)
    assert done["info"]["audio_chunks"] >= 2 and len(pcm) == 320 * 40


def test_long_text_runs_whole_between_steps(thread_server):
    long_text = "This sentence is part of a long text. " * 12  # several text chunks
    with thread_server(max_batch=2, scheduler="continuous") as srv:
        r = httpx.post(srv.url + "/v1/audio/speech", timeout=120,
                       json={"model": "llasa", "input": long_text, "max_new_tokens": 20,
                             "response_format": "pcm"})
        w = httpx.get(srv.url + "/health").json()["worker"]
    info = json.loads(r.headers["X-Llasa-Info"])
    assert r.status_code == 200 and info["chunks"] >= 2 and "continuous" not in info
    assert w["completed"] == 1 and w["continuous"] == 0


def test_guided_request_joins_and_equals_alone(thread_server, tiny_tts):
    body = {"model": "llasa", "input": TEXTS[1], "max_new_tokens": 40, "cfg_scale": 2.0,
            "response_format": "pcm", **GREEDY}
    with thread_server(max_batch=3, scheduler="continuous") as srv:
        r = httpx.post(srv.url + "/v1/audio/speech", json=body, timeout=120)
    info = json.loads(r.headers["X-Llasa-Info"])
    assert r.status_code == 200 and info["continuous"] and info["batch_size"] == 2  # + twin
    ref = tiny_tts.synthesize(TEXTS[1], max_new_tokens=40, cfg_scale=2.0, **GREEDY)
    got = np.frombuffer(r.content, "<i2").astype(int)
    assert np.abs(got - np.frombuffer(pcm16(ref.audio), "<i2")).max() <= 1
