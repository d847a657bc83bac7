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
        (1, "standard (75)"), (2, "standard (75)"), (1, 10)]
    for r in res["serve"]:
        assert r["ok"] >= r["streams"] and r["errors"] == 0 and r["agg_tok_s"] > 0
        assert r["first_audio_p50_ms"] is not None
    assert res["serve"][-1]["worker"]["failed"] == 0
    md = (tmp_path / "gpu.md").read_text()
    assert "| streams |" in md and "HF generate" in md
