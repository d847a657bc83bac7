"""Verifier plumbing for search: build verifiers from specs, score batches, count the cost.

Notation: ``b`` candidates in a batch, ``n`` samples (16 kHz mono float32).

A :class:`Scorer` ranks with one score: the single verifier's, or an equal-weight
:class:`~llasa.verifiers.CombinedVerifier` of several (its unit scale, higher is better). Every
part's raw score is kept for reporting, so nothing is scored twice.
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from .._common.errors import InputError
from ..verifiers import CombinedVerifier, Verifier, VerifierRegistry, VerifyRequest, best_index
from .result import Compute


TRANSCRIPT = "transcript"  # key of the ASR transcript in per-audio score dicts


def resolve_verifiers(specs: Sequence, registry: VerifierRegistry) -> list[Verifier]:
    """Specs (strings) through ``registry`` (built once, cached); Verifier objects as given."""
    out = []
    for s in specs:
        if isinstance(s, str):
            out.append(registry.get(s))
        elif isinstance(s, Verifier):
            out.append(s)
        else:
            raise InputError(f"a verifier must be a spec such as 'wer' or a Verifier object, "
                             f"got {type(s).__name__}")
    names = [v.name for v in out]
    if len(set(names)) != len(names):
        raise InputError(f"the same verifier is named twice: {names}")
    return out


def _base_verifiers(v) -> list:
    if isinstance(v, CombinedVerifier):
        return [p for part, _ in v.parts for p in _base_verifiers(part)]
    return [v]


class Scorer:
    """Scores candidate audio with the search's verifiers and records the cost in a Compute.

    Args:
        verifiers: one or more verifiers; several are ranked by their equal-weight combination.
        request: the target text, reference voice and language.
        compute: where calls, clips and seconds are added.
    """

    def __init__(self, verifiers: Sequence[Verifier], request: VerifyRequest, compute: Compute):
        verifiers = list(verifiers)
        if not verifiers:
            raise InputError("a search needs at least one verifier")
        self.rank = verifiers[0] if len(verifiers) == 1 else CombinedVerifier(
            [(v, 1.0) for v in verifiers])
        self.request, self.compute = request, compute
        for v in _base_verifiers(self.rank):  # fail before sampling, not after
            check = getattr(v, "_check_request", None)
            if check is not None:
                check(request)

    @property
    def name(self) -> str:
        return self.rank.name

    @property
    def higher_is_better(self) -> bool:
        return bool(self.rank.higher_is_better)

    def score(self, audios: Sequence[np.ndarray]) -> tuple[np.ndarray, list[dict]]:
        """Score a batch.

        Args:
            audios: b waveforms [n_i] (partial or complete candidates).

        Returns:
            (ranking scores float64 [b], per-audio {verifier name: raw score}).
        """
        audios = list(audios)
        if not audios:
            return np.zeros(0), []
        t0 = time.perf_counter()
        bases = _base_verifiers(self.rank)
        for v in bases:  # no stale transcripts from an earlier batch
            if hasattr(v, "last_transcripts"):
                v.last_transcripts = None
        rank = np.asarray(self.rank.score(audios, self.request), dtype=np.float64)
        self.compute.verifier_seconds += time.perf_counter() - t0
        self.compute.verifier_calls += len(bases)
        self.compute.verifier_clips += len(bases) * len(audios)
        parts = dict(getattr(self.rank, "last_scores", {}) or {})
        parts[self.rank.name] = rank
        per = [{k: float(v[i]) for k, v in parts.items()} for i in range(len(audios))]
        # the ASR transcript behind a WER/CER score: equal scores can then be told apart
        texts = next((t for t in (getattr(v, "last_transcripts", None) for v in bases)
                      if t is not None and len(t) == len(audios)), None)
        if texts is not None:
            for p, t in zip(per, texts):
                p[TRANSCRIPT] = t
        return rank, per

    def best(self, scores: np.ndarray) -> int:
        """Index of the best ranking score (direction-aware, first on ties)."""
        return best_index(scores, self.higher_is_better)

    def order(self, scores: np.ndarray) -> list[int]:
        """Indices from best to worst (stable: earlier rows win ties; NaN last)."""
        s = np.asarray(scores, dtype=np.float64)
        key = -s if self.higher_is_better else s
        key = np.where(np.isnan(key), np.inf, key)
        return [int(i) for i in np.argsort(key, kind="stable")]


def score_audio(audios: Sequence[np.ndarray], request: VerifyRequest, specs: Sequence,
                registry: VerifierRegistry) -> list[dict]:
    """Score finished audio outside a search (``llasa tts --verifier``, the server's scores).

    Args:
        audios: b waveforms [n_i] at 16 kHz.
        request: target text, language and reference voice.
        specs: verifier specs or objects (several: also their equal-weight combination).
        registry: builds and caches the verifiers.

    Returns:
        Per audio ``{verifier name: raw score}`` (several: each one and the combination), plus
        ``"transcript"`` where an ASR verifier ran.
    """
    return Scorer(resolve_verifiers(specs, registry), request, Compute()).score(audios)[1]
