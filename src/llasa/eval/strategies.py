"""Search strategies for evaluation: ``llasa eval tts --search`` and ``llasa eval search``.

The strategies themselves live in :mod:`llasa.search` (``build_strategy`` turns a strategy name
and a budget into the evaluation's callable ``(items, budget) -> [(audio [n], info)]``, with
``info["compute"]`` = LM tokens sampled). This module only picks the verifier registry the
search uses, so one set of verifier models serves every item and every budget of a run.
"""

from __future__ import annotations

from typing import Any

from .._common.errors import InputError
from .sweep import StrategyFn

STRATEGY_NAMES = ("best-of-n", "beam", "partial", "hybrid", "threshold")


def build_strategy(name: str, tts: Any, settings: Any, *, verifier_spec: str = "sim",
                   judge_device: str = "cpu") -> StrategyFn:
    """Wrap the :mod:`llasa.search` strategy ``name`` for evaluation.

    Args:
        name: one of :data:`STRATEGY_NAMES`.
        tts: the :class:`llasa.tts.Llasa` to search with.
        settings: sampling settings of every candidate.
        verifier_spec: the verifier that guides the search (e.g. "sim", "wer",
            "wavlm-sim:<id>"). Using the same model as a judge inflates that metric — the
            paper's caveat — so prefer a different judge (docs/eval.md).
        judge_device: device of the verifier models.

    Raises:
        InputError: unknown strategy or verifier spec.
    """
    from ..search import build_strategy as search_strategy
    from ..verifiers import VerifierRegistry

    registry = VerifierRegistry() if judge_device == "cpu" else VerifierRegistry(
        device=judge_device)
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"a search strategy name is required; one of {STRATEGY_NAMES}")
    return search_strategy(name.strip(), tts, settings, verifier_spec=verifier_spec,
                           registry=registry)
