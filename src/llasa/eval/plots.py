"""PNG plots (matplotlib, Agg backend: no display needed): metric histograms and
metric-vs-compute scaling curves in the style of the Llasa paper's inference-scaling figure."""

from __future__ import annotations

import math
from pathlib import Path

from .report import METRICS


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)  # headless servers have no display
    import matplotlib.pyplot as plt

    return plt


def _finite(values) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def plot_distributions(records: list[dict], path: str | Path,
                       keys: tuple[str, ...] = ("wer", "cer", "sim_o", "sim_r", "mos", "pesq_wb",
                                                "pesq_nb", "stoi", "sim")) -> Path | None:
    """One histogram panel per metric present in ``records``. Returns None when none is."""
    present = [k for k in keys if _finite(r.get(k) for r in records)]
    if not present:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(present), figsize=(3.2 * len(present), 2.8), squeeze=False)
    for ax, key in zip(axes[0], present):
        vals = _finite(r.get(key) for r in records)
        scale = 100.0 if METRICS[key][1] else 1.0
        ax.hist([v * scale for v in vals], bins=min(20, max(3, len(vals))), color="#4C72B0")
        ax.set_title(METRICS[key][0])
        ax.set_ylabel("utterances")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_scaling(curves: dict[str, list[tuple[float, float]]], path: str | Path, *,
                 metric: str, xlabel: str = "compute budget (LM tokens sampled)") -> Path:
    """Metric vs compute, one line per strategy, log-2 x axis.

    Args:
        curves: strategy name → [(compute, metric value)], e.g. from a search sweep.
        metric: key in :data:`report.METRICS` (decides the title and percent scaling).
    """
    plt = _pyplot()
    title, pct, hib = METRICS.get(metric, (metric, False, None))
    fig, ax = plt.subplots(figsize=(4.8, 3.4))
    for name, pts in curves.items():
        pts = sorted((x, y) for x, y in pts if y is not None and math.isfinite(y))
        if pts:
            ax.plot([p[0] for p in pts], [p[1] * (100 if pct else 1) for p in pts],
                    marker="o", label=name)
    ax.set_xscale("log", base=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(title + ("" if hib is None else (" ↑" if hib else " ↓")))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
