"""Adapters from :mod:`llasa.search` strategies to the evaluation's strategy callables
``(items, budget) -> [(audio [n], info)]`` used by ``llasa eval tts --search`` and
``llasa eval search``.
"""

from __future__ import annotations

from typing import Any

from .._common.errors import InputError
from .sweep import StrategyFn


def build_strategy(name: str, tts: Any, settings: Any, *, verifier_spec: str = "sim",
                   judge_device: str = "cpu") -> StrategyFn:
    """Wrap the search strategy ``name`` for evaluation.

    Raises:
        InputError: llasa.search is not available or does not know ``name``.
    """
    try:
        from .. import search as search_pkg

        factory = search_pkg.build_strategy  # type: ignore[attr-defined]
    except (ImportError, AttributeError):
        raise InputError("search strategies come from llasa.search, which this installation "
                         "does not provide yet; evaluate plain sampling without --search") from None
    raise InputError(f"unknown search strategy {name!r} ({factory})")
