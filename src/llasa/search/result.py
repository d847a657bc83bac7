"""What a search returns: the winner (a :class:`~llasa.tts.types.SynthesisResult`), every
candidate's scores, and the compute spent against the requested budget.

Notation: ``n`` audio samples at 16 kHz, ``t`` codec frames.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..codec.config import FRAME_RATE
from ..tts.types import SynthesisResult


@dataclass
class Compute:
    """Compute spent by one search (all counts exact).

    Attributes:
        lm_tokens: LM tokens sampled over all rows (END included), the search's main cost.
        lm_seconds: wall time inside the LM (prefill + sampling steps + KV forks).
        decode_calls / decode_seconds: batched codec decodes (partial and final audio).
        verifier_calls: ``score()`` calls on the underlying verifiers (a weighted combination
            of 2 verifiers scoring one batch is 2 calls).
        verifier_clips: audios scored, summed over those calls.
        verifier_seconds: wall time inside the verifiers (first-use model load included).
        wall_seconds: the whole search.
        candidates: complete candidates produced (best-of-N: N; beam: finished hypotheses).
        budget: the requested budget (best-of-N: N, beam: B*K rows, hybrid: max(B*K, M),
            threshold: max_samples).
        max_lm_tokens: upper bound of ``lm_tokens`` the budget allows (budget rows × token cap).
    """

    lm_tokens: int = 0
    lm_seconds: float = 0.0
    decode_calls: int = 0
    decode_seconds: float = 0.0
    verifier_calls: int = 0
    verifier_clips: int = 0
    verifier_seconds: float = 0.0
    wall_seconds: float = 0.0
    candidates: int = 0
    budget: int = 0
    max_lm_tokens: int = 0

    @property
    def verifier_share(self) -> float:
        """Fraction of the wall time spent in verifiers."""
        return self.verifier_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["verifier_share"] = round(self.verifier_share, 4)
        return d


@dataclass
class Candidate:
    """One complete candidate of a search.

    Attributes:
        index: position in :attr:`SearchResult.candidates`.
        codes: int64 [t] new speech codes.
        ended: stopped on SPEECH_GENERATION_END (False: token cap).
        num_tokens: LM tokens of this candidate (END included).
        scores: {verifier name: raw score} of the complete audio (ranking verifier included).
        rank_score: the score used to rank (the ranking verifier's, or the combination's).
        meta: strategy facts (e.g. ``prm_score`` for hybrids, ``round`` for threshold).
    """

    index: int
    codes: np.ndarray
    ended: bool
    num_tokens: int
    scores: dict
    rank_score: float
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        # the scorer hands the ASR transcript with the scores; it is a fact, not a score
        if "transcript" in self.scores:
            text = self.scores["transcript"]
            self.scores = {k: v for k, v in self.scores.items() if k != "transcript"}
            self.meta = {**self.meta, "transcript": text}

    def to_dict(self) -> dict:
        return {"index": self.index, "tokens": self.num_tokens, "ended": self.ended,
                "seconds": round(len(self.codes) / FRAME_RATE, 3),
                "scores": {k: _num(v) for k, v in self.scores.items()},
                "rank_score": _num(self.rank_score), **self.meta}


@dataclass
class SearchResult(SynthesisResult):
    """The chosen candidate's audio/codes/info plus the search's scores and compute.

    Attributes (besides :class:`SynthesisResult`'s ``audio [n]``, ``codes [t]``, ``info``):
        strategy: the config's spec-like description (``"best-of-n:8"``).
        ranking: name of the score that ranked candidates, and ``higher_is_better``.
        chosen: index of the winner in ``candidates``.
        scores: the winner's scores ({verifier name: raw score}).
        candidates: every complete candidate, with its scores.
        steps: beam strategies: per step, the rows' PRM scores and which rows were kept.
        compute: :class:`Compute`.
    """

    strategy: str = ""
    ranking: dict = field(default_factory=dict)
    chosen: int = 0
    scores: dict = field(default_factory=dict)
    candidates: list = field(default_factory=list)
    steps: list = field(default_factory=list)
    compute: Compute = field(default_factory=Compute)

    def to_dict(self) -> dict:
        """JSON-ready summary (no audio, no codes)."""
        return {"strategy": self.strategy, "ranking": self.ranking, "chosen": self.chosen,
                "scores": {k: _num(v) for k, v in self.scores.items()},
                "candidates": [c.to_dict() for c in self.candidates],
                "steps": self.steps, "compute": self.compute.to_dict(),
                "seconds": round(self.duration, 3), "tokens": self.info.get("tokens")}


def _num(x) -> float | None:
    x = float(x)
    return None if np.isnan(x) else round(x, 6)
