"""Inference-time scaling curves: run search strategies over a list at several compute budgets
and plot metric vs compute (the Llasa paper's Figure-style curves).

A strategy here is any callable ``(items, budget) -> [(audio [n], info)]``; ``info["compute"]``
is the compute it actually used (LM tokens sampled), which is what the x axis shows when
present. Each (strategy, budget) cell is a resumable :func:`~llasa.eval.harness.evaluate_tts`
run in its own folder, so an interrupted sweep continues where it stopped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .._common.errors import InputError
from .harness import evaluate_tts
from .judges import Judges
from .plots import plot_scaling
from .report import METRICS, _fmt
from .testsets import EvalItem

StrategyFn = Callable[[list[EvalItem], int], list[tuple[np.ndarray, dict]]]
CURVE_METRICS = ("wer", "cer", "sim_o", "sim_r", "mos")


def parse_budgets(text: str) -> list[int]:
    """"1,2,4,8" → [1, 2, 4, 8] (positive, strictly increasing)."""
    try:
        budgets = [int(x) for x in str(text).split(",") if x.strip()]
    except ValueError:
        raise InputError(f"budgets must be comma-separated integers, got {text!r}") from None
    if not budgets or any(b < 1 for b in budgets) or sorted(set(budgets)) != budgets:
        raise InputError(f"budgets must be positive and increasing, e.g. 1,2,4,8; got {text!r}")
    return budgets


def sweep(strategies: dict[str, StrategyFn], items: list[EvalItem], budgets: list[int],
          out_dir: str | Path, judges: Judges, *, codec: Any = None, batch_size: int = 1,
          system: dict | None = None) -> dict:
    """Evaluate every strategy at every budget; write curves (JSON, markdown, PNG per metric).

    Args:
        strategies: name → callable ``(items, budget) -> [(audio, info)]``.
        items: evaluation list.
        budgets: compute budgets passed to the strategies (e.g. candidates or beam width).
        out_dir: gets ``<strategy>/budget_<b>/`` runs, ``sweep.json``, ``sweep.md`` and
            ``scaling_<metric>.png``.

    Returns:
        ``{"budgets", "points": [{strategy, budget, compute, metrics...}], "plots"}``.
    """
    if not strategies:
        raise InputError("sweep needs at least one strategy")
    out = Path(out_dir)
    points = []
    for name, fn in strategies.items():
        for b in budgets:
            summary = evaluate_tts(lambda batch, fn=fn, b=b: fn(batch, b), items,
                                   out / name / f"budget_{b}", judges, codec=codec,
                                   batch_size=batch_size, task="search",
                                   system={**(system or {}), "strategy": name, "budget": b})
            m = summary["metrics"]
            compute = (m.get("compute") or {}).get("mean")
            points.append({"strategy": name, "budget": b,
                           "compute": compute if compute is not None else float(b),
                           **{k: m[k]["mean"] for k in CURVE_METRICS if k in m}})
    plots = {}
    for key in CURVE_METRICS:
        curves = {name: [(p["compute"], p.get(key)) for p in points if p["strategy"] == name]
                  for name in strategies}
        if any(y is not None for pts in curves.values() for _, y in pts):
            plots[key] = str(plot_scaling(curves, out / f"scaling_{key}.png", metric=key,
                                          xlabel="compute per utterance (LM tokens sampled)"))
    result = {"task": "search", "budgets": budgets, "points": points, "plots": plots,
              "judges": judges.describe(), "system": system or {}}
    (out / "sweep.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "sweep.md").write_text(markdown_sweep(points))
    return result


def markdown_sweep(points: list[dict]) -> str:
    """One row per (strategy, budget): compute and the metrics."""
    keys = [k for k in CURVE_METRICS if any(p.get(k) is not None for p in points)]
    lines = ["| strategy | budget | compute | " + " | ".join(METRICS[k][0] for k in keys) + " |",
             "|" + "---|" * (len(keys) + 3)]
    for p in points:
        lines.append(f"| {p['strategy']} | {p['budget']} | {p['compute']:.0f} | "
                     + " | ".join(_fmt(k, p.get(k)) for k in keys) + " |")
    return "\n".join(lines) + "\n"
