"""bench/fused_step.py runs end to end on the tiny shape: both paths, a row per case, and the
module switches it flips are restored afterwards."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from llasa.lm import qkernel

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(qkernel.kernel() is None, reason="llasa's CPU kernel is not available")
def test_fused_step_prints_a_row_per_case():
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "fused_step.py"), "--preset",
                          "tiny", "--variants", "int4,int8", "--candidates", "1,2",
                          "--rounds", "1", "--new-tokens", "4", "--threads", "1"],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("CPU: ")
    rows = [x for x in out.stdout.splitlines() if x.startswith("| int")]
    assert [r.split("|")[1:3] for r in rows] == [[" int4 ", " 1 "], [" int4 ", " 2 "],
                                                 [" int8 ", " 1 "], [" int8 ", " 2 "]]
    assert all(r.rstrip().endswith("x |") for r in rows)
