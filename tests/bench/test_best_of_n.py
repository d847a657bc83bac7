"""bench/best_of_n.py runs end to end on the tiny shape: a row per width, the ratio column, and
bad settings refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = str(ROOT / "bench" / "best_of_n.py")


def test_best_of_n_prints_a_row_per_width():
    out = subprocess.run([sys.executable, BENCH, "--preset", "tiny", "--variants", "int8,int4",
                          "-n", "3", "--rounds", "1", "--new-tokens", "4", "--threads", "1"],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("CPU: ")
    rows = [r.split("|")[1:-1] for r in out.stdout.splitlines() if r.startswith("| int")]
    assert [c[0].strip() for c in rows] == ["int8", "int4"]
    for c in rows:
        assert float(c[1]) > 0 and float(c[3]) > 0 and c[4].strip().endswith("x")


def test_best_of_n_refuses_one_candidate():
    out = subprocess.run([sys.executable, BENCH, "-n", "1"], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert out.returncode == 2 and "--candidates must be >= 2" in out.stderr
