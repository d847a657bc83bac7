"""``llasa serve`` (subprocess, tiny model) driven by the real OpenAI client and plain HTTP."""

from __future__ import annotations

import base64
import io
import json

import httpx
import numpy as np
import pytest
import soundfile as sf
from openai import OpenAI

FAST = {"max_new_tokens": 40}  # tiny random LM: cap the length, keep the suite fast


@pytest.fixture(scope="module")
def client(cli_server):
    return OpenAI(base_url=cli_server + "/v1", api_key="unused", max_retries=0, timeout=60)


def test_health_and_models(cli_server, client):
    h = httpx.get(cli_server + "/health").json()
    assert h["status"] == "ok" and h["sample_rate"] == 16000
    ids = [m.id for m in client.models.list().data]
    assert ids[0] == "llasa" and "tts-1" in ids


def test_speech_wav_with_openai_client(client):
    r = client.audio.speech.create(model="llasa", input="Hello from the server.",
                                   voice="default", response_format="wav",
                                   extra_body={**FAST, "seed": 3})
    wav, sr = sf.read(io.BytesIO(r.content), dtype="float32")
    info = json.loads(r.response.headers["X-Llasa-Info"])
    assert sr == 16000 and wav.ndim == 1
    assert len(wav) == 320 * info["tokens"] and 0 < info["tokens"] <= 40
    assert json.loads(r.response.headers["X-Llasa-Scores"]) == {}
    assert np.abs(wav).max() > 0
    # Same seed → same audio (the server passes the seed through).
    again = client.audio.speech.create(model="tts-1", input="Hello from the server.",
                                       voice="default", response_format="wav",
                                       extra_body={**FAST, "seed": 3})
    assert again.content == r.content


@pytest.mark.parametrize("fmt", ["flac", "pcm", "mp3"])
def test_other_formats(client, fmt):
    r = client.audio.speech.create(model="llasa", input="Format test.", voice="default",
                                   response_format=fmt, extra_body={**FAST, "seed": 1})
    n = json.loads(r.response.headers["X-Llasa-Info"])["tokens"]
    if fmt == "pcm":
        assert len(r.content) == 2 * 320 * n
    else:
        wav, sr = sf.read(io.BytesIO(r.content))
        assert abs(len(wav) / sr - n / 50) < 0.1


def test_streaming_wav_with_openai_client(client):
    with client.audio.speech.with_streaming_response.create(
            model="llasa", input="Streaming, chunk by chunk.", voice="default",
            response_format="wav", extra_body={**FAST, "stream": True, "seed": 2}) as r:
        assert r.headers.get("transfer-encoding") == "chunked"
        parts = list(r.iter_bytes())
    body = b"".join(parts)
    assert body[:4] == b"RIFF"
    pcm = np.frombuffer(body[44:], "<i2")
    assert pcm.size > 0 and pcm.size % 320 == 0


def test_streaming_sse_final_event_has_scores_and_info(cli_server):
    body = {"model": "llasa", "input": "Events please.", "stream_format": "sse",
            "verifiers": ["mos"], **FAST, "seed": 5}
    events = []
    with httpx.stream("POST", cli_server + "/v1/audio/speech", json=body, timeout=60) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    deltas = [e for e in events if e["type"] == "speech.audio.delta"]
    done = events[-1]
    assert deltas and done["type"] == "speech.audio.done"
    n = sum(len(base64.b64decode(e["audio"])) for e in deltas) // 2
    assert done["info"]["seconds"] == pytest.approx(n / 16000, abs=1e-3)
    assert 1.0 <= done["scores"]["mos"] <= 5.0


def test_verifier_scores_in_headers(client):
    r = client.audio.speech.create(model="llasa", input="Score me.", voice="default",
                                   response_format="wav",
                                   extra_body={**FAST, "seed": 4, "verifiers": ["mos", "wer"]})
    scores = json.loads(r.response.headers["X-Llasa-Scores"])
    assert set(scores) == {"mos", "wer"}
    assert 1.0 <= scores["mos"] <= 5.0 and scores["wer"] >= 0.0


BAD = [
    ({"input": "hi", "voice": "default"}, 400, "model"),
    ({"model": "llasa", "input": "", "voice": "default"}, 400, "input"),
    ({"model": "llasa", "input": "x" * 5000, "voice": "default"}, 400, "input"),
    ({"model": "llasa", "input": "hi", "voice": "nobody"}, 400, "voice"),
    ({"model": "llasa", "input": "hi", "response_format": "aac"}, 400, "response_format"),
    ({"model": "llasa", "input": "hi", "temperature": -1}, 400, "temperature"),
    ({"model": "llasa", "input": "hi", "repetition_penalty": 0.5}, 400, None),
    ({"model": "llasa", "input": "hi", "max_new_tokens": 10**5}, 400, "max_new_tokens"),
    ({"model": "gpt-9", "input": "hi"}, 400, "model"),
    ({"model": "llasa", "input": "hi", "verifiers": ["hf-asr:evil/model"]}, 400, None),
    ({"model": "llasa", "input": "hi", "verifiers": ["sim"]}, 400, None),
    ({"model": "llasa", "input": "hi", "stream": True, "response_format": "mp3"}, 400,
     "response_format"),
    ({"model": "llasa", "input": "hi", "search": {"strategy": "best_of_n", "budget": 10**3}},
     400, "search"),
    ({"model": "llasa", "input": "hi", "unknown_knob": 1}, 400, "unknown_knob"),
]


@pytest.mark.parametrize("body, status, param", BAD)
def test_bad_requests_get_4xx_json(cli_server, body, status, param):
    r = httpx.post(cli_server + "/v1/audio/speech", json=body, timeout=30)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["message"] and err["type"] == "invalid_request_error"
    if param:
        assert param in (err["param"] or "") or param in err["message"]


@pytest.mark.parametrize("content, ctype, status", [
    (b"{not json", "application/json", 400),
    (b"[1, 2]", "application/json", 400),
    (b'{"model": "llasa", "input": "hi"}', "text/plain", 415),
    (b"", "application/json", 400),
    (b"\xff\xfe\x00", "application/json", 400),
    (b'{"model": "llasa", "input": "' + b"a" * (2 << 20) + b'"}', "application/json", 413),
    # issue 19: these reached json.loads' recursion limit or int parser and answered 500
    (b"[" * 100_000, "application/json", 400),
    (b'{"a":' * 100_000, "application/json", 400),
    (b'{"model": "llasa", "input": "hi", "x": ' + b"[" * 17 + b"]" * 17 + b"}",
     "application/json", 400),
    (b'{"model": "llasa", "input": "hi", "seed": ' + b"9" * 5000 + b"}", "application/json",
     400),
])
def test_malformed_bodies(cli_server, content, ctype, status):
    r = httpx.post(cli_server + "/v1/audio/speech", content=content,
                   headers={"Content-Type": ctype}, timeout=30)
    assert r.status_code == status and "error" in r.json()


@pytest.mark.parametrize("field", ["temperature", "top_p", "cfg_scale", "speed"])
def test_nan_sampling_values_say_finite(cli_server, field):
    """Issue 19: NaN fails every range check, so the message used to read "<= 4"."""
    r = httpx.post(cli_server + "/v1/audio/speech", headers={"Content-Type": "application/json"},
                   content=b'{"model": "llasa", "input": "hi", "%s": NaN}' % field.encode(),
                   timeout=30)
    assert r.status_code == 400 and "finite" in r.json()["error"]["message"], r.text


def test_unknown_route_and_method_are_json(cli_server):
    assert httpx.get(cli_server + "/v1/nothing").json()["error"]["code"] == "not_found"
    r = httpx.get(cli_server + "/v1/audio/speech")
    assert r.status_code == 405 and "error" in r.json()
    # after all the bad input above the server still serves
    assert httpx.get(cli_server + "/health").json()["worker"]["failed"] == 0


def test_web_page_is_served(cli_server):
    html = httpx.get(cli_server + "/").text
    assert '<button id="synthesize">' in html and "/static/app.js" in html
    assert "synthesize" in httpx.get(cli_server + "/static/app.js").text
    assert httpx.get(cli_server + "/static/../../etc/passwd").status_code == 404


def test_server_limit_clamps_the_library_cap(thread_server, tiny_tts):
    """One cap policy (llasa.lm.settings.token_budget): the server's --max-new-tokens only
    lowers it, so a short text gets the cap `llasa tts` would give it (issue 20)."""
    from llasa.lm.settings import GenerationSettings, token_budget

    def cap(srv, text):
        r = httpx.post(srv.url + "/v1/audio/speech", timeout=120,
                       json={"model": "llasa", "input": text, "seed": 0})
        assert r.status_code == 200, r.text
        return json.loads(r.headers["X-Llasa-Info"])["max_new_tokens"]

    with thread_server(max_new_tokens=150) as srv:
        short, longer = "Hi.", "A longer sentence to read."
        assert cap(srv, short) == token_budget(len(short), 2048, GenerationSettings()) == 130
        assert tiny_tts.synthesize(short, seed=0).info["max_new_tokens"] == 130  # as the CLI
        assert token_budget(len(longer), 2048, GenerationSettings()) > 150
        assert cap(srv, longer) == 150  # over the server's limit: clamped, not recomputed
