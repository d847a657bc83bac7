"""bench/gpu.py --smoke: the GPU benchmark's code path on CPU with tiny models (a real server
on 127.0.0.1, streaming clients in their own process); JSON and markdown come out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "gpu.py"


def test_gpu_bench_smoke_writes_json_and_table(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", LLASA_QUIET="1",
               TOKENIZERS_PARALLELISM="false")
    subprocess.run([sys.executable, str(BENCH), "--smoke", "--out", str(tmp_path),
                    "--seconds", "1"], check=True, env=env, timeout=600,
                   capture_output=True)
    res = json.loads((tmp_path / "gpu.json").read_text())
    assert [r["method"] for r in res["batch1"]][0] == "HF generate"
    assert all(r["tokens"] == 16 and r["tok_s"] > 0 for r in res["batch1"])
    assert [r["windows"] for r in res["codec"]] == [1, 2]
    assert [(r["streams"], r["first_chunk"]) for r in res["serve"]] == [
        (1, "standard (75)"), (2, "standard (75)")]
    assert [(r["streams"], r["first_chunk"]) for r in res["serve_first_chunk"]] == [(1, 10)]
    for r in res["serve"] + res["serve_first_chunk"]:
        assert r["ok"] >= r["streams"] and r["errors"] == 0 and r["agg_tok_s"] > 0
        assert r["first_audio_p50_ms"] is not None
    assert res["serve"][-1]["worker"]["failed"] == 0
    md = (tmp_path / "gpu.md").read_text()
    assert "| streams |" in md and "HF generate" in md and "Short first window" in md
    assert "failed" not in md


def test_failed_phase_is_reported_not_fatal(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_gpu", BENCH)
    gpu = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu)
    res = {"env": {}, "config": dict(gpu.SMOKE), "build_s": 1.0,
           "batch1": [{"method": "HF generate", "tokens": 16, "wall_s": 1.0, "tok_s": 16.0,
                       "vs_hf": 1.0}],
           "codec": {"error": "RuntimeError('boom')", "traceback": "..."}}
    md = gpu.write(tmp_path, res)  # what a run cut short (or failing in one phase) leaves
    assert "failed: `RuntimeError('boom')`" in md and "| HF generate |" in md
    assert "not run" in md and json.loads((tmp_path / "gpu.json").read_text()) == res
