"""`llasa eval` CLI: clear errors without tracebacks, the audio-dir and codec modes, compare."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TINY = Path(__file__).resolve().parents[2] / "data" / "evalsets" / "tiny"


def llasa(*args, timeout=600):
    env = {**os.environ, "LLASA_QUIET": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "llasa.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=timeout)


def test_malformed_list_names_the_line_without_traceback(tmp_path):
    lst = tmp_path / "bad.lst"
    lst.write_text("u1|Hi.|missing.wav|Hello.\n")
    r = llasa("eval", "tts", "--list", lst, "--audio-dir", tmp_path, "--out", tmp_path / "o")
    assert r.returncode == 2
    assert f"{lst}, line 1: prompt audio file not found" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("args, needle", [
    (["--budgets", "4,2"], "budgets must be positive and increasing"),
    (["--strategies", " , "], "--strategies is empty"),
])
def test_search_argument_errors(tmp_path, args, needle):
    r = llasa("eval", "search", "--list", TINY / "meta.lst", "--out", tmp_path, *args)
    assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr


def test_audio_dir_mode_and_compare(tmp_path):
    r = llasa("eval", "tts", "--list", TINY / "meta.jsonl", "--limit", "2",
              "--audio-dir", TINY / "targets", "--out", tmp_path / "gt", "--mos", "none")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "| WER (%) ↓ |" in r.stdout and "| SIM-o ↑ |" in r.stdout
    s = json.loads((tmp_path / "gt" / "summary.json").read_text())
    assert s["num_utterances"] == 2 and s["judges"]["mos"] == "off"
    r = llasa("eval", "compare", tmp_path / "gt", tmp_path / "gt" / "summary.json",
              "--names", "a,b")
    assert r.returncode == 0 and "| a | 2 |" in r.stdout and "| b | 2 |" in r.stdout
    r = llasa("eval", "compare", tmp_path)
    assert r.returncode == 2 and "no summary.json" in r.stderr


def test_codec_mode_on_list_targets(tmp_path):
    from llasa.codec import presets
    from llasa.codec.model import Codec

    Codec.from_config(presets.tiny(), seed=0).save_pretrained(tmp_path / "codec")
    r = llasa("eval", "codec", "--list", TINY / "meta.lst", "--limit", "1", "--codec",
              tmp_path / "codec", "--device", "cpu", "--out", tmp_path / "o", "--asr", "none",
              "--sim", "none", "--mos", "none")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "PESQ-WB" in r.stdout and "STOI" in r.stdout and "Codec speed" in r.stdout


@pytest.fixture(scope="module")
def tiny_dirs(tiny_model_args):
    return [*tiny_model_args, "--device", "cpu"]


def test_search_sweep_end_to_end(tiny_dirs, tmp_path):
    """`llasa eval search` with the real best-of-N of llasa.search on the tiny model."""
    r = llasa("eval", "search", "--list", TINY / "meta.lst", "--limit", "1", "--out", tmp_path,
              "--strategies", "best-of-n", "--budgets", "1,2", "--verifier", "sim",
              "--max-new-tokens", "20", "--seed", "0", "--mos", "none", *tiny_dirs)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((tmp_path / "sweep.json").read_text())
    # compute is what the search sampled: N candidates x 20 tokens (the random LM never ends)
    assert [(p["budget"], p["compute"]) for p in res["points"]] == [(1, 20), (2, 40)]
    assert (tmp_path / "scaling_wer.png").exists() and (tmp_path / "scaling_sim_o.png").exists()
    rec = json.loads((tmp_path / "best-of-n" / "budget_2" / "results.jsonl").read_text())
    assert rec["search"] == "best-of-n:2" and "sim" in rec["search_scores"]
    assert "| best-of-n | 2 | 40 |" in r.stdout


def test_tts_with_search_and_unknown_strategy(tiny_dirs, tmp_path):
    r = llasa("eval", "tts", "--list", TINY / "meta.lst", "--limit", "1", "--out", tmp_path,
              "--search", "no-such", "--asr", "none", "--sim", "none", "--mos", "none",
              *tiny_dirs)
    assert r.returncode == 2 and "unknown search strategy 'no-such'" in r.stderr
    assert "Traceback" not in r.stderr


def test_tts_sampling_options_reach_the_run_and_are_checked(tiny_dirs, tmp_path):
    base = ["eval", "tts", "--list", TINY / "meta.lst", "--limit", "1", "--asr", "none",
            "--sim", "none", "--mos", "none", "--max-new-tokens", "10", "--seed", "0",
            *tiny_dirs]
    r = llasa(*base, "--out", tmp_path / "bad", "--min-p", "1.5")
    assert r.returncode == 2 and "min_p" in r.stderr and "Traceback" not in r.stderr
    r = llasa(*base, "--out", tmp_path / "ok", "--min-p", "0.1", "--top-k", "7")
    assert r.returncode == 0, r.stderr[-2000:]
    settings = json.loads((tmp_path / "ok" / "run.json").read_text())["settings"]
    assert (settings["min_p"], settings["top_k"]) == (0.1, 7)


def test_tts_asr_fallback_reaches_the_judge(tiny_dirs, tmp_path):
    r = llasa("eval", "tts", "--list", TINY / "meta.lst", "--limit", "1", "--sim", "none",
              "--mos", "none", "--max-new-tokens", "10", "--seed", "0", "--asr-fallback",
              "--out", tmp_path, *tiny_dirs)
    assert r.returncode == 0, r.stderr[-2000:]
    judges = json.loads((tmp_path / "summary.json").read_text())["judges"]
    assert "fallback=True" in judges["asr"]
