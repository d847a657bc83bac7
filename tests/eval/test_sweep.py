"""Scaling sweep: every (strategy, budget) cell is evaluated, curves and PNGs written, and a
rerun reuses finished cells. The strategy is a real synthesiser on the tiny model whose token
cap grows with the budget (the real search strategies plug in the same way)."""

from __future__ import annotations

import pytest

from llasa._common.errors import InputError
from llasa.eval.harness import llasa_synthesizer
from llasa.eval.sweep import parse_budgets, sweep


def test_parse_budgets():
    assert parse_budgets("1,2,4") == [1, 2, 4]
    for bad in ("", "2,1", "0,1", "a"):
        with pytest.raises(InputError):
            parse_budgets(bad)


def test_sweep_writes_curves_and_resumes(eval_tts, tiny_items, judges, tmp_path):
    from llasa.lm.sampling import GenerationSettings

    calls = []

    def longer(items, budget):  # compute grows with the budget: 10 tokens per unit
        calls.append(budget)
        synth = llasa_synthesizer(eval_tts, GenerationSettings(seed=budget,
                                                               max_new_tokens=10 * budget))
        return synth(items)

    items = tiny_items[:2]
    res = sweep({"longer": longer}, items, [1, 3], tmp_path, judges, batch_size=2)
    pts = res["points"]
    assert [(p["strategy"], p["budget"]) for p in pts] == [("longer", 1), ("longer", 3)]
    assert pts[0]["compute"] < pts[1]["compute"] <= 30  # measured, not nominal
    assert all(p["wer"] is not None and p["sim_o"] is not None for p in pts)
    for key in ("wer", "sim_o", "mos"):
        assert (tmp_path / f"scaling_{key}.png").read_bytes()[:4] == b"\x89PNG"
    assert "| longer | 3 |" in (tmp_path / "sweep.md").read_text()
    assert calls == [1, 3]
    again = sweep({"longer": longer}, items, [1, 3], tmp_path, judges, batch_size=2)
    assert calls == [1, 3] and again["points"] == pts  # finished cells are not recomputed
