"""bench/cpu.py's table compares like with like: decode against llama-bench's decode, end to end
against llama.cpp's prompt + decode, best-of-8 against one candidate's decode step."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _cpu():
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_cpu", BENCH / "cpu.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _row(method, dtype, k, pre, dec, steps, **kw):
    return {"method": method, "dtype": dtype, "candidates": k, "prompt_tokens": 100,
            "prefill_s": pre, "decode_s": dec, "steps": steps, "tok_s": steps / dec,
            "e2e_tok_s": steps / (pre + dec), **kw}


def test_ratios_use_matching_measures():
    cpu = _cpu()
    lm = [_row("HF generate", "fp32", 1, 2.0, 10.0, 40, peak_rss_gib=1.0),
          _row("llasa", "int4", 1, 1.0, 2.0, 40, weights_gib=0.6, peak_rss_gib=1.0),
          _row("llasa, 8 candidates", "int4", 8, 1.0, 3.0, 40, weights_gib=0.6,
               peak_rss_gib=1.0)]
    cpp = [_row("llama.cpp", "q4_k_m", 1, 0.5, 4.0, 40, file_gib=0.8)]
    res = {"cpu": "Test CPU", "torch": "x", "threads": 2, "bandwidth_gib_s": 20.0, "load": 0.1,
           "preset": "1b", "new_tokens": 40, "repeats": 1, "lm": lm, "llamacpp": cpp}
    out = cpu.table(res)
    line = next(x for x in out.splitlines() if x.startswith("| llasa | int4"))
    # decode 20 tok/s vs llama.cpp's 10; end to end 40/3 vs 40/4.5; vs HF decode 20 / 4
    assert "| 20.00 |" in line and "2.00x / 1.50x" in line and "| 5.00x |" in line
    best = next(x for x in out.splitlines() if x.startswith("| llasa, 8 candidates"))
    assert "1.50x" in best  # 3 s against 2 s of decode for the same steps
    assert "100-token prompt" in out and "Test CPU" in out
