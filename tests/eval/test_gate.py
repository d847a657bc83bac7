"""The parity gate: paired by seed and utterance, passes inside the reference's 95 % interval
or on its good side, fails beyond it on the bad side; exit status 1 on a failure."""

from __future__ import annotations

import json

import numpy as np
import pytest

from llasa._common.errors import InputError
from llasa.cli.main import main
from llasa.eval.gate import gate_metric, gate_runs


def _run(path, wer, sim):
    path.mkdir(parents=True)
    (path / "results.jsonl").write_text("".join(
        json.dumps({"utt": f"u{i:02d}", "wer": w, "sim_o": s}) + "\n"
        for i, (w, s) in enumerate(zip(wer, sim))))
    return path


def test_gate_metric_sides():
    rng = np.random.default_rng(0)
    ref = rng.uniform(0.1, 0.5, 40)
    hw = 1.96 * ref.std(ddof=1) / np.sqrt(40)
    same = gate_metric("wer", ref, ref + 0.2 * hw, higher_is_better=False)
    assert same.passed and same.diff == pytest.approx(0.2 * hw)
    assert gate_metric("wer", ref, ref - 5 * hw, False).passed  # better is never a failure
    worse = gate_metric("wer", ref, ref + 1.5 * hw, False)
    assert not worse.passed and worse.reference_half_width == pytest.approx(hw)
    assert not gate_metric("sim_o", ref, ref - 1.5 * hw, True).passed
    assert gate_metric("sim_o", ref, ref + 3 * hw, True).passed
    with pytest.raises(InputError, match="same number"):
        gate_metric("wer", ref, ref[:-1], False)


def test_gate_runs_and_cli(tmp_path, capsys):
    rng = np.random.default_rng(1)
    refs, good, bad = [], [], []
    for seed in range(2):
        w, s = rng.uniform(0, 0.6, 12), rng.uniform(0.6, 0.9, 12)
        refs.append(_run(tmp_path / f"ref{seed}", w, s))
        good.append(_run(tmp_path / f"good{seed}", w + rng.normal(0, 0.01, 12), s))
        bad.append(_run(tmp_path / f"bad{seed}", w + 0.3, s - 0.1))
    gates = {g.metric: g for g in gate_runs(refs, good)}
    assert set(gates) == {"wer", "sim_o"} and gates["wer"].n == 24 and gates["wer"].passed
    assert not any(g.passed for g in gate_runs(refs, bad))
    verdict = tmp_path / "gate.json"
    assert main(["eval", "gate", "--reference", *map(str, refs), "--candidate",
                 *map(str, good), "--json", str(verdict)]) == 0
    assert "gate: passed" in capsys.readouterr().out and json.loads(verdict.read_text())["passed"]
    assert main(["eval", "gate", "--reference", *map(str, refs), "--candidate",
                 *map(str, bad), "--name", "int4"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "| int4 |" in out
    # one candidate per reference; the same utterances on both sides
    assert main(["eval", "gate", "--reference", str(refs[0]), "--candidate", *map(str, good)]) == 2
    other = _run(tmp_path / "other", [0.1, 0.2], [0.8, 0.8])
    with pytest.raises(InputError, match="different utterances"):
        gate_runs([refs[0]], [other])
    with pytest.raises(InputError, match="no results.jsonl"):
        gate_runs([tmp_path / "nowhere"], [refs[0]])
