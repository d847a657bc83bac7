"""Search strategies for evaluation: ``llasa eval tts --search`` and ``llasa eval search``.

The strategies live in :mod:`llasa.search`; this module adapts them to the evaluation: a
strategy name and a budget become the callable ``(items, budget) -> [(audio [n], info)]``
(``info["compute"]`` = LM tokens sampled), with one verifier registry for every item and
budget of a run.
"""

from __future__ import annotations

from typing import Any

from .._common.errors import InputError
from .sweep import StrategyFn

STRATEGY_NAMES = ("best-of-n", "beam", "partial", "hybrid", "threshold")


def build_strategy(name: str, tts: Any, settings: Any, *, verifier_spec: str = "sim",
                   judge_device: str = "cpu") -> StrategyFn:
    """The :mod:`llasa.search` strategy ``name`` as an evaluation strategy.

    Args:
        name: one of :data:`STRATEGY_NAMES`; ``budget`` maps to a config as in
            :func:`llasa.search.config_for_budget`.
        tts: the :class:`llasa.tts.Llasa` to search with.
        settings: sampling settings of every candidate.
        verifier_spec: the verifier that guides the search (e.g. "sim", "wer",
            "wavlm-sim:<id>"). Using the same model as a judge inflates that metric — the
            paper's caveat — so prefer a different judge (docs/eval.md).
        judge_device: device of the verifier models.

    Raises:
        InputError: unknown strategy or verifier spec.
    """
    from ..search import config_for_budget, search
    from ..tts.voices import Voice
    from ..verifiers import VerifierRegistry

    registry = VerifierRegistry() if judge_device == "cpu" else VerifierRegistry(
        device=judge_device)
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"a search strategy name is required; one of {STRATEGY_NAMES}")
    name = name.strip()
    config_for_budget(name, 1, (verifier_spec,))  # unknown names fail now

    def run(items, budget: int):
        out = []
        for it in items:
            voice = None if it.prompt_wav is None else Voice.from_audio(
                tts.codec, it.prompt_wav, it.prompt_text)
            res = search(tts, it.target_text, voice,
                         config_for_budget(name, budget, (verifier_spec,)), settings=settings,
                         registry=registry, language=it.language)
            c = res.compute
            out.append((res.audio, {"tokens": int(res.info["tokens"]), "ended": res.info["ended"],
                                    "compute": c.lm_tokens, "verifier_calls": c.verifier_calls,
                                    "search": res.strategy,
                                    "search_scores": {k: float(v) for k, v in
                                                      res.scores.items()}}))
        return out

    return run
