"""A weighted combination of verifiers on one higher-is-better scale.

For verifiers ``v_i`` with weights ``w_i > 0``, raw scores ``s_i`` and nominal ranges
``(lo_i, hi_i)`` (their ``score_range``):

    u_i = (s_i - lo_i) / (hi_i - lo_i)      if v_i.higher_is_better
    u_i = (hi_i - s_i) / (hi_i - lo_i)      otherwise
    combined = sum_i w_i * u_i / sum_i w_i

So each term is 1 at the verifier's best nominal value and 0 at its worst (WER 0 → 1, WER 1 → 0,
MOS 5 → 1, SIM 1 → 1). Terms are not clipped: a WER of 2 gives u = -1, keeping the order.
The transform is fixed per verifier, never fitted to the batch, so scores from different batches
and beam steps stay comparable.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .._common.errors import InputError
from .base import Verifier, VerifyRequest, check_audios


def unit_score(verifier: Verifier, scores: np.ndarray) -> np.ndarray:
    """Map raw scores of ``verifier`` to the higher-is-better unit scale of the module docstring."""
    lo, hi = (float(x) for x in verifier.score_range)
    if not hi > lo:
        raise InputError(f"verifier {verifier.name!r} has an empty score_range {(lo, hi)}")
    s = np.asarray(scores, dtype=np.float64)
    return (s - lo) / (hi - lo) if verifier.higher_is_better else (hi - s) / (hi - lo)


class CombinedVerifier:
    """Weighted sum of unit-scaled scores (see the module docstring); higher is better.

    Args:
        parts: ``[(verifier, weight), ...]`` with weights > 0 and unique verifier names.
        name: key of the combined score (default ``"0.5*wer+0.5*sim"``-style).

    Attributes:
        last_scores: {part name: raw float64 [b]} from the latest :meth:`score` call, so a search
            can report every part without scoring twice.
    """

    higher_is_better = True
    score_range = (0.0, 1.0)

    def __init__(self, parts: Sequence[tuple[Verifier, float]], name: str | None = None):
        parts = list(parts)
        if not parts:
            raise InputError("CombinedVerifier needs at least one (verifier, weight) pair")
        for item in parts:
            if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], Verifier)):
                raise InputError(f"CombinedVerifier parts must be (verifier, weight) pairs, "
                                 f"got {item!r}")
            if not (isinstance(item[1], (int, float)) and item[1] > 0):
                raise InputError(f"weight of {item[0].name!r} must be a number > 0, got {item[1]!r}")
        names = [v.name for v, _ in parts]
        if len(set(names)) != len(names):
            raise InputError(f"CombinedVerifier: verifier names must be unique, got {names}")
        self.parts = [(v, float(w)) for v, w in parts]
        total = sum(w for _, w in self.parts)
        self.name = name or "+".join(f"{w / total:g}*{v.name}" for v, w in self.parts)
        self.last_scores: dict[str, np.ndarray] = {}

    @property
    def loaded(self) -> bool:
        return all(getattr(v, "loaded", True) for v, _ in self.parts)

    def score(self, audios: Sequence[np.ndarray], request: VerifyRequest) -> np.ndarray:
        """Score with every part (each batched) and combine. Returns float64 [b]."""
        wavs = check_audios(audios)
        raw = {v.name: np.asarray(v.score(wavs, request), dtype=np.float64) for v, _ in self.parts}
        self.last_scores = raw
        total = sum(w for _, w in self.parts)
        return sum(w * unit_score(v, raw[v.name]) for v, w in self.parts) / total

    def __repr__(self) -> str:
        return f"CombinedVerifier({self.name!r})"
