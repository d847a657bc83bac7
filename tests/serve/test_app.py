"""Server behaviour under load and limits: 429 on a full queue, timeouts, disconnects,
batching, API key. Real uvicorn servers (in a thread) over the tiny model.

``duration`` forces an exact token count, so each request's work is known in advance.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from openai import AuthenticationError, OpenAI


def body(text="Load test sentence.", **kw):
    return {"model": "llasa", "input": text, **kw}


async def _post_many(url, bodies, timeout=60):
    async with httpx.AsyncClient(timeout=timeout) as c:
        async def one(b):
            t0 = time.monotonic()
            r = await c.post(url + "/v1/audio/speech", json=b)
            return r, time.monotonic() - t0
        return await asyncio.gather(*(one(b) for b in bodies))


def test_full_queue_answers_429_at_once(thread_server):
    with thread_server(max_queue=1, max_batch=1) as srv:
        res = asyncio.run(_post_many(srv.url, [body(duration=6.0)] * 6))
        codes = [r.status_code for r, _ in res]
        assert sorted(set(codes)) == [200, 429], codes
        # one running + one queued at most; whether the second fits depends on whether the
        # worker took the first off the queue before the burst arrived
        assert 1 <= codes.count(200) <= 2 and codes.count(429) == 6 - codes.count(200)
        for r, dt in res:
            if r.status_code == 429:
                assert r.headers["Retry-After"] == "1"
                assert r.json()["error"]["code"] == "queue_full"
                assert dt < 1.0  # refused at once, not after waiting
        h = httpx.get(srv.url + "/health").json()
        assert h["worker"]["rejected"] == codes.count(429) and h["worker"]["failed"] == 0


def test_request_timeout_is_504_and_server_keeps_serving(thread_server):
    with thread_server(request_timeout_s=0.05) as srv:
        r = httpx.post(srv.url + "/v1/audio/speech", json=body(duration=8.0), timeout=30)
        assert r.status_code == 504 and r.json()["error"]["code"] == "timeout"
    with thread_server(request_timeout_s=30) as srv:
        r = httpx.post(srv.url + "/v1/audio/speech", json=body(duration=0.5), timeout=30)
        assert r.status_code == 200


def test_client_that_leaves_is_not_served(thread_server):
    with thread_server(max_queue=4, max_batch=1) as srv:
        async def main():
            async with httpx.AsyncClient(timeout=60) as c:
                busy = [asyncio.create_task(c.post(srv.url + "/v1/audio/speech",
                                                   json=body(f"Busy {i}.", duration=8.0)))
                        for i in range(2)]
                await asyncio.sleep(0.1)
                with pytest.raises(httpx.ReadTimeout):  # this client gives up while queued
                    await c.post(srv.url + "/v1/audio/speech", json=body("Gone.", seed=1),
                                 timeout=0.3)
                return [(await t).status_code for t in busy]

        assert asyncio.run(main()) == [200, 200]
        w = httpx.get(srv.url + "/health").json()["worker"]
        assert w["cancelled"] == 1 and w["completed"] == 2


def test_stream_stops_when_client_disconnects(thread_server):
    with thread_server() as srv:
        with httpx.stream("POST", srv.url + "/v1/audio/speech", timeout=60,
                          json=body(duration=8.0, stream=True, response_format="pcm")) as r:
            assert r.status_code == 200
            next(r.iter_raw())  # first audio arrived; now hang up
        deadline = time.monotonic() + 20
        while (w := httpx.get(srv.url + "/health").json()["worker"])["running"] or not (
                w["cancelled"] or w["completed"]):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert w["cancelled"] == 1 and w["completed"] == 0


def test_compatible_requests_are_batched(thread_server):
    # the "batch" scheduler (tests/serve/test_continuous.py covers the continuous one)
    with thread_server(max_batch=4, batch_wait_s=0.5, scheduler="batch") as srv:
        texts = ["One.", "Number two.", "And three."]
        res = asyncio.run(_post_many(srv.url, [body(t, max_new_tokens=30) for t in texts]))
        infos = [json.loads(r.headers["X-Llasa-Info"]) for r, _ in res]
        assert [i["batch_size"] for i in infos] == [3, 3, 3]
        for (r, _), i in zip(res, infos):
            assert len(r.content) == 44 + 2 * 320 * i["tokens"]
        # a seeded request is reproducible, so it never joins a batch
        res = asyncio.run(_post_many(srv.url, [body(t, max_new_tokens=30, seed=1)
                                               for t in texts]))
        assert {json.loads(r.headers["X-Llasa-Info"])["batch_size"] for r, _ in res} == {1}


def test_api_key(thread_server):
    key = "s3cret-key-for-tests"
    with thread_server(api_key=key) as srv:
        assert httpx.get(srv.url + "/health").status_code == 200
        assert httpx.get(srv.url + "/").status_code == 200
        r = httpx.get(srv.url + "/v1/models")
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
        assert httpx.get(srv.url + "/v1/voices", headers={"X-API-Key": "wrong"}
                         ).status_code == 401
        assert httpx.get(srv.url + "/v1/voices", headers={"X-API-Key": key}).status_code == 200
        for doc in ("/docs", "/openapi.json", "/redoc"):  # issue 19: these were open
            assert httpx.get(srv.url + doc).status_code == 401, doc
        assert httpx.get(srv.url + "/openapi.json", headers={"X-API-Key": key}).status_code == 200
        with pytest.raises(AuthenticationError):
            OpenAI(base_url=srv.url + "/v1", api_key="nope", max_retries=0).models.list()
        client = OpenAI(base_url=srv.url + "/v1", api_key=key, max_retries=0)
        r = client.audio.speech.create(model="llasa", input="Authorised.", voice="default",
                                       extra_body={"max_new_tokens": 20})
        assert r.content[:4] == b"RIFF"


def test_speed_stretches_audio(thread_server):
    with thread_server() as srv:
        r1, r2 = (httpx.post(srv.url + "/v1/audio/speech", timeout=60,
                             json=body(duration=2.0, seed=0, speed=s, response_format="pcm"))
                  for s in (1.0, 2.0))
        assert len(r1.content) == 2 * 32000
        assert abs(len(r2.content) / len(r1.content) - 0.5) < 0.05


def test_stream_sends_audio_before_generation_ends(thread_server):
    with thread_server() as srv:
        t0 = time.monotonic()
        first = None
        n = 0
        with httpx.stream("POST", srv.url + "/v1/audio/speech", timeout=120,
                          json=body(duration=8.0, seed=0, stream=True,
                                    response_format="pcm")) as r:
            for chunk in r.iter_raw():
                if first is None:
                    first = time.monotonic() - t0
                n += len(chunk)
        total = time.monotonic() - t0
        assert 0 < n <= 2 * 320 * 400 and n % 640 == 0  # whole codec frames, capped at 8 s
        assert first < 0.6 * total, (first, total)


def test_running_generation_stops_when_client_disconnects(thread_server):
    """A non-streaming request that is already generating stops at the next decoding step once
    its client hangs up: it counts as cancelled (not completed), the worker is free again long
    before the full generation would end, and the next request is served at once."""
    with thread_server(max_new_tokens=1900, max_batch=1, request_timeout_s=120) as srv:
        url = srv.url + "/v1/audio/speech"
        t0 = time.monotonic()  # reference: the same work, run to the end
        assert httpx.post(url, json=body(duration=38.0), timeout=120).status_code == 200
        full = time.monotonic() - t0
        with pytest.raises(httpx.ReadTimeout):  # hang up while the LM is generating
            httpx.post(url, json=body("Leave early.", duration=38.0), timeout=0.3)
        gone = time.monotonic()
        while (h := httpx.get(srv.url + "/health").json())["busy"]:
            assert time.monotonic() - gone < full, "the generation ran to its end"
            time.sleep(0.02)
        stopped = time.monotonic() - gone
        assert h["cancelled"] == 1 and h["worker"]["completed"] == 1, h
        t1 = time.monotonic()
        assert httpx.post(url, json=body(duration=0.5), timeout=30).status_code == 200
        print(f"full {full:.2f} s, stopped {stopped:.2f} s after hang-up, "
              f"next {time.monotonic() - t1:.2f} s")
        assert stopped < 0.5 * full


def test_timed_out_generation_stops_burning_cpu(thread_server):
    with thread_server(max_new_tokens=1900, request_timeout_s=0.3) as srv:
        r = httpx.post(srv.url + "/v1/audio/speech", json=body(duration=38.0), timeout=60)
        assert r.status_code == 504
        t = time.monotonic()
        while (h := httpx.get(srv.url + "/health").json())["busy"]:
            assert time.monotonic() - t < 5, "a timed-out generation kept running"
            time.sleep(0.02)
        assert h["cancelled"] == 1 and h["worker"]["completed"] == 0, h


def test_client_leaving_a_batch_drops_only_its_rows(thread_server):
    """Two batched requests; one client hangs up mid-generation: its rows leave the batch and
    it counts as cancelled, the other one gets its full audio."""
    with thread_server(max_new_tokens=1900, max_batch=2, batch_wait_s=0.5) as srv:
        async def main():
            async with httpx.AsyncClient(timeout=120) as c:
                stay = asyncio.create_task(c.post(srv.url + "/v1/audio/speech",
                                                  json=body("I stay.", duration=30.0)))
                with pytest.raises(httpx.ReadTimeout):
                    await c.post(srv.url + "/v1/audio/speech",
                                 json=body("I leave.", duration=30.0), timeout=1.0)
                return await stay

        r = asyncio.run(main())
        assert r.status_code == 200
        info = json.loads(r.headers["X-Llasa-Info"])
        assert info["batch_size"] == 2 and not info["cancelled"]
        assert len(r.content) == 44 + 2 * 16000 * 30
        w = httpx.get(srv.url + "/health").json()["worker"]
        assert w["cancelled"] == 1 and w["completed"] == 1 and w["largest_batch"] == 2, w


def test_serves_a_quantized_lm(tiny_model_dir, tmp_path, serve_app):
    """`llasa serve --quant int8` path: the engine loads quantized weights and answers."""
    import io

    import httpx
    import soundfile as sf

    from llasa.serve import ServeSettings, create_app, load_engine

    settings = ServeSettings(data_dir=tmp_path / "data", max_new_tokens=60)
    engine = load_engine(tiny_model_dir / "lm", tiny_model_dir / "codec", settings,
                         device="cpu", quant="int8")
    assert engine.tts.lm.quant == "int8"
    with serve_app(create_app(engine, settings)) as srv:
        r = httpx.post(srv.url + "/v1/audio/speech", timeout=120, json={
            "model": "llasa", "input": "Hello there.", "response_format": "wav", "seed": 1})
    assert r.status_code == 200, r.text
    audio, sr = sf.read(io.BytesIO(r.content))
    assert sr == 16000 and len(audio) > 0
