"""Search size limits (issue 19.2): one rule for the CLI, the API and the server."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from llasa._common.errors import BudgetError, InputError
from llasa.search import BestOfN, parse_search, search
from llasa.search import api as search_api
from llasa.search.limits import (MAX_SEARCH_ROWS, bytes_per_row, check_search_memory,
                                 check_search_rows)


@pytest.mark.parametrize("spec,rows", [("best-of-n:16", 16), ("beam:4x4x25", 16),
                                       ("hybrid:2x4x25:1.0:12", 12),
                                       ("threshold:wer<=0.1,max=20", 20)])
def test_rows_within_limit(spec, rows):
    assert check_search_rows(parse_search(spec)) == rows


@pytest.mark.parametrize("spec", ["best-of-n:100000", "beam:20x20", "hybrid:2x2:1.0:300"])
def test_rows_over_limit_are_input_errors(spec):
    with pytest.raises(InputError, match=f"limit of {MAX_SEARCH_ROWS}"):
        check_search_rows(parse_search(spec))
    with pytest.raises(InputError, match="limit of 16"):
        check_search_rows(parse_search(spec), 16)


def test_memory_rule_counts_kv_cache(tiny_tts):
    cfg = tiny_tts.lm.model.config
    per = bytes_per_row(cfg, 100, 4)
    kv = 2 * cfg.num_hidden_layers * cfg.num_key_value_heads * cfg.head_dim * 100 * 4
    assert per == kv + 3 * cfg.vocab_size * 4
    check_search_memory(BestOfN(8), cfg, 100, 4, available=16 * 8 * per)
    with pytest.raises(BudgetError, match="use at most 4 candidates"):
        check_search_memory(BestOfN(8), cfg, 100, 4, available=8 * per + 1)


def test_search_refuses_before_sampling(tiny_tts, monkeypatch):
    monkeypatch.setattr(search_api, "available_bytes", lambda device: 1024 * 1024)
    t0 = time.perf_counter()
    with pytest.raises(BudgetError, match="candidates"):
        search(tiny_tts, "Hello there.", None, BestOfN(64, ("wer",)), max_new_tokens=30)
    assert time.perf_counter() - t0 < 5


def test_cli_refuses_huge_search_before_loading(tmp_path):
    """The LM path does not exist: the size error must come first, on one line."""
    r = subprocess.run([sys.executable, "-m", "llasa.cli", "tts", "Please wait here.", "-o",
                        str(tmp_path / "s.wav"), "--search", "best-of-n:100000",
                        "--lm", str(tmp_path / "missing-lm")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "100000 candidates" in lines[0], r.stderr
    assert not (tmp_path / "s.wav").exists()
