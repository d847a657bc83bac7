"""The parity gate for a changed model (e.g. quantized weights) against its reference.

Both models are evaluated on the same lists with the same seeds (``llasa eval tts``, one run
folder per seed); utterances are paired by (seed, utterance id). A metric passes when the new
model's mean lies inside the reference's 95 % interval, or beyond it on the good side (a lower
WER or a higher SIM is never a failure). The paired difference and its 95 % interval are
reported beside it, so a reader sees how much of a gap the data can resolve.

``llasa eval gate --reference R0 R1 R2 --candidate C0 C1 C2`` prints the table and exits 1 when a
metric fails; ``docs/lm.md`` holds the quantized models' results.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .._common.errors import InputError

#: metric → True when higher is better
GATE_METRICS = {"wer": False, "cer": False, "sim_o": True}
Z95 = 1.96


@dataclass(frozen=True)
class MetricGate:
    """One metric's verdict.

    Attributes:
        metric: e.g. ``wer``.
        n: paired utterances.
        reference, candidate: means.
        reference_half_width: half-width of the reference mean's 95 % interval.
        diff, diff_half_width: mean paired difference (candidate − reference) and its 95 %
            half-width.
        passed: the candidate's mean is inside the reference's interval or on its good side.
    """

    metric: str
    n: int
    reference: float
    candidate: float
    reference_half_width: float
    diff: float
    diff_half_width: float
    passed: bool


def _half_width(v: np.ndarray) -> float:
    return Z95 * float(v.std(ddof=1)) / math.sqrt(len(v)) if len(v) > 1 else math.inf


def gate_metric(metric: str, reference: list[float], candidate: list[float],
                higher_is_better: bool) -> MetricGate:
    """The verdict for paired per-utterance values (same order, same length)."""
    r, c = np.asarray(reference, dtype=np.float64), np.asarray(candidate, dtype=np.float64)
    if r.shape != c.shape or r.ndim != 1:
        raise InputError(f"{metric}: reference and candidate need the same number of values")
    if len(r) < 2:
        raise InputError(f"{metric}: at least 2 paired utterances are needed, got {len(r)}")
    hw = _half_width(r)
    rm, cm = float(r.mean()), float(c.mean())
    passed = cm >= rm - hw if higher_is_better else cm <= rm + hw
    d = c - r
    return MetricGate(metric, len(r), rm, cm, hw, float(d.mean()), _half_width(d), passed)


def _records(run: Path) -> dict[str, dict]:
    path = run / "results.jsonl" if run.is_dir() else run
    if not path.is_file():
        raise InputError(f"no results.jsonl in {run} (run 'llasa eval tts --out {run}' first)")
    out = {}
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            raise InputError(f"{path}:{i} is not JSON") from None
        out[str(rec.get("utt"))] = rec
    return out


def gate_runs(reference: list[Path], candidate: list[Path],
              metrics: dict[str, bool] | None = None) -> list[MetricGate]:
    """Pair run i of ``reference`` with run i of ``candidate`` (one per seed) by utterance id
    and judge every metric both runs hold for the same utterances."""
    if len(reference) != len(candidate) or not reference:
        raise InputError(f"give one candidate run per reference run (got {len(reference)} and "
                         f"{len(candidate)})")
    metrics = GATE_METRICS if metrics is None else metrics
    values: dict[str, tuple[list[float], list[float]]] = {m: ([], []) for m in metrics}
    for rr, cc in zip(reference, candidate):
        a, b = _records(rr), _records(cc)
        if set(a) != set(b):
            raise InputError(f"{rr} and {cc} hold different utterances: not the same list")
        for utt in sorted(a):
            for m in metrics:
                x, y = a[utt].get(m), b[utt].get(m)
                if _finite(x) and _finite(y):
                    values[m][0].append(float(x))
                    values[m][1].append(float(y))
    out = [gate_metric(m, *values[m], metrics[m]) for m in metrics if len(values[m][0]) >= 2]
    if not out:
        raise InputError(f"the runs share no metric among {sorted(metrics)}")
    return out


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def markdown(gates: list[MetricGate], name: str = "candidate") -> str:
    lines = [f"| metric | n | reference (95 % CI) | {name} | paired diff (95 % CI) | gate |",
             "|---|---|---|---|---|---|"]
    for g in gates:
        lines.append(f"| {g.metric} | {g.n} | {g.reference:.4f} ± {g.reference_half_width:.4f} "
                     f"| {g.candidate:.4f} | {g.diff:+.4f} ± {g.diff_half_width:.4f} | "
                     f"{'pass' if g.passed else 'FAIL'} |")
    return "\n".join(lines) + "\n"


def to_json(gates: list[MetricGate]) -> dict:
    return {"passed": all(g.passed for g in gates), "metrics": [asdict(g) for g in gates]}
