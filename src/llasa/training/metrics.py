"""Training metrics: one CSV row per step and a loss-curve PNG (matplotlib, Agg backend).

Resume-safe: :meth:`MetricsLog.truncate` drops rows written after the checkpoint a run resumes
from, so a run killed between two checkpoints never leaves duplicate steps.
"""

from __future__ import annotations

import csv
from pathlib import Path

from .checkpoint import atomic_write_text


class MetricsLog:
    """Appends ``{"step": int, name: float, ...}`` rows to ``path`` (a CSV with a header)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.fields: list[str] | None = None
        if self.path.is_file():
            with open(self.path, newline="") as f:
                self.fields = next(csv.reader(f), None)

    def rows(self) -> list[dict[str, float]]:
        if not self.path.is_file():
            return []
        with open(self.path, newline="") as f:
            return [{k: float(v) for k, v in r.items() if v not in (None, "")}
                    for r in csv.DictReader(f)]

    def truncate(self, last_step: int) -> None:
        """Keep only rows with ``step <= last_step`` (rewritten atomically)."""
        if not self.path.is_file() or not self.fields:
            return
        with open(self.path, newline="") as f:
            lines = f.read().splitlines()
        kept = [lines[0]] + [ln for ln in lines[1:] if ln and int(float(ln.split(",")[0]))
                             <= last_step]
        atomic_write_text(self.path, "\n".join(kept) + "\n")

    def append(self, row: dict) -> None:
        if self.fields is None:
            self.fields = list(row)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "w", newline="") as f:
                csv.writer(f).writerow(self.fields)
        with open(self.path, "a", newline="") as f:
            csv.writer(f).writerow([_fmt(row.get(k)) for k in self.fields])

    def plot(self, png: str | Path, keys: list[str], title: str = "training") -> Path | None:
        """Write a PNG with one subplot per key in ``keys`` against the step."""
        rows = self.rows()
        keys = [k for k in keys if any(k in r for r in rows)]
        if not rows or not keys:
            return None
        import matplotlib

        matplotlib.use("Agg")  # headless: never needs a display
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(len(keys), 1, figsize=(7, 2.2 * len(keys)), sharex=True,
                                 squeeze=False)
        for ax, k in zip(axes[:, 0], keys):
            pts = [(r["step"], r[k]) for r in rows if k in r]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], lw=1)
            ax.set_ylabel(k)
            ax.grid(alpha=0.3)
        axes[-1, 0].set_xlabel("step")
        fig.suptitle(title)
        fig.tight_layout()
        png = Path(png)
        tmp = png.with_name(f".{png.name}.tmp.png")
        fig.savefig(tmp, dpi=90)
        plt.close(fig)
        tmp.replace(png)
        return png


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)
