"""POST /v1/audio/speech with a ``search`` body on a real server (uvicorn thread, tiny model,
real bundled verifiers): the winner is the arg-best candidate and the compute is reported."""

from __future__ import annotations

import io
import json

import httpx
import numpy as np
import soundfile as sf

PROMPT = "The birch canoe slid on the smooth planks."


def _upload_voice(url, speech):
    buf = io.BytesIO()
    sf.write(buf, speech(PROMPT)[:32000], 16000, format="WAV")
    r = httpx.post(url + "/v1/voices", data={"name": "canoe", "text": "The birch canoe slid"},
                   files={"file": ("p.wav", buf.getvalue())}, timeout=60)
    assert r.status_code in (200, 201), r.text


def _speech(url, **body):
    return httpx.post(url + "/v1/audio/speech", timeout=120,
                      json={"model": "llasa", "input": "Hello there.", "max_new_tokens": 20,
                            "seed": 2, **body})


def test_search_requests(thread_server, speech):
    with thread_server(max_search_candidates=4) as srv:
        _upload_voice(srv.url, speech)
        r = _speech(srv.url, voice="canoe",
                    search={"strategy": "best_of_n", "budget": 3, "verifiers": ["sim"]})
        assert r.status_code == 200, r.text
        info = json.loads(r.headers["X-Llasa-Info"])
        scores = json.loads(r.headers["X-Llasa-Scores"])
        ranks = info["search_rank_scores"]
        assert info["search"] == "best-of-n:3" and len(ranks) == 3
        assert info["search_transcripts"] == [None] * 3  # SIM ranks: no ASR transcripts
        assert info["search_chosen"] == int(np.argmax(ranks))
        assert scores["sim"] == round(max(ranks), 4)
        assert info["compute"]["lm_tokens"] == 60 and info["compute"]["verifier_calls"] == 1
        wav, sr = sf.read(io.BytesIO(r.content))
        assert sr == 16000 and len(wav) == 20 * 320
        again = _speech(srv.url, voice="canoe",
                        search={"strategy": "best_of_n", "budget": 3, "verifiers": ["sim"]})
        assert again.content == r.content  # seeded search is reproducible

        # hybrid: SIM-guided beam (2x2 for 1 s), then 4 finals ranked by MOS
        r = _speech(srv.url, voice="canoe", max_new_tokens=60,
                    search={"strategy": "hybrid", "budget": 4, "verifiers": ["sim", "mos"],
                            "chunk_tokens": 25})
        assert r.status_code == 200, r.text
        info = json.loads(r.headers["X-Llasa-Info"])
        assert info["search"] == "hybrid:2x2x25:2c:4" and len(info["search_rank_scores"]) == 4
        assert info["compute"]["lm_tokens"] == 4 * 50 + 4 * 10
        assert "mos" in json.loads(r.headers["X-Llasa-Scores"])

        # clear 400s: sim without a voice, budget over the server limit
        bad = _speech(srv.url, search={"strategy": "beam", "budget": 2, "verifiers": ["sim"]})
        assert bad.status_code == 400 and "voice" in bad.text
        bad = _speech(srv.url, voice="canoe", search={"strategy": "beam", "budget": 8})
        assert bad.status_code == 400 and "limit" in bad.text
