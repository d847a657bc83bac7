"""bench/quant_kernels.py --only peak: the compute-ceiling table on this CPU, a row per width
and row count, and the best-of-8 floor it implies."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from llasa.lm import qkernel

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(qkernel.kernel() is None, reason="llasa's CPU kernel is not available")
def test_peak_table_has_a_row_per_case_and_the_floor():
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "quant_kernels.py"), "--only",
                          "peak"], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("CPU: ")
    rows = [r.split("|")[1:-1] for r in out.stdout.splitlines() if r.startswith("| llasa")]
    assert [(c[1].strip(), c[2].strip()) for c in rows] == [("4", "1"), ("4", "8"), ("8", "1"),
                                                            ("8", "8")]
    for c in rows:
        assert float(c[3]) > 0 and re.fullmatch(r" \d+% ", c[4])
    floor = re.search(r"at least ([\d.]+) ms of 4-bit kernel time.*peak alone: ([\d.]+) ms",
                      out.stdout)
    assert floor and float(floor.group(1)) > 0 and float(floor.group(2)) > 0
