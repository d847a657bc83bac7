"""Entry points: :func:`search`, the cross-field checks every front end applies before a
model loads (:func:`check_search_request`), and
:func:`config_for_budget`, the one-knob config of the server and the evaluation.

Front ends keep their own adapters: the server's JSON body (:mod:`llasa.serve.engine`) and the
evaluation's items (:mod:`llasa.eval.strategies`) call :func:`search`.
"""

from __future__ import annotations

from typing import Any

from .._common.errors import InputError
from ..verifiers import VerifierRegistry
from .config import Beam, BestOfN, Hybrid, PartialPRM, SearchConfig, Threshold, parse_search
from .engine import SearchRun
from .limits import MAX_SEARCH_ROWS, available_bytes, check_search_memory, check_search_rows
from .result import SearchResult
from .strategies import STRATEGIES


def search(tts: Any, text: str, voice: Any = None, config: SearchConfig | str | None = None,
           *, settings: Any = None, registry: VerifierRegistry | None = None,
           language: str = "en", should_stop: Any = None, **sampling: Any) -> SearchResult:
    """Synthesize ``text`` with a verifier-guided search.

    Args:
        tts: a :class:`llasa.tts.Llasa`.
        text: what to say (one chunk of text).
        voice: optional :class:`llasa.tts.Voice` (cloning prompt; the SIM reference).
        config: a config (:class:`BestOfN`, :class:`Beam`, :class:`PartialPRM`,
            :class:`Hybrid`, :class:`Threshold`) or a spec string (``"best-of-n:8"``).
        settings: sampling settings; ``**sampling`` overrides fields (``seed=1``).
        registry: where verifiers named by spec are built and cached (default: a new one;
            pass one to reuse loaded models across calls).
        language: language of ``text`` (WER vs CER, ASR language).
        should_stop: ``() -> bool`` asked once per LM decoding step; when True the search
            stops with :class:`~llasa._common.errors.Cancelled` (a server's client left).

    Returns:
        :class:`SearchResult`: winner audio [n] / codes [t], all candidates' scores, compute.
    """
    if config is None:
        config = BestOfN()
    if isinstance(config, str):
        config = parse_search(config)
    fn = STRATEGIES.get(type(config))
    if fn is None:
        raise InputError(f"search config must be BestOfN, Beam, PartialPRM, Hybrid or "
                         f"Threshold (or a spec string), got {type(config).__name__}")
    check_search_request(config)
    settings = tts.make_settings(settings, **sampling)  # the model's defaults + overrides
    run = SearchRun(tts, text, voice, settings, registry or VerifierRegistry(),
                    language=language, budget=config.budget, should_stop=should_stop)
    lm = getattr(tts.lm, "model", None)
    if lm is not None and hasattr(lm, "config"):  # torch LMs: refuse before the cache exists
        check_search_memory(config, lm.config, len(run.prompt) + run.cap,
                            lm.dtype.itemsize, available_bytes(lm.device))
    return fn(run, config)


# ----------------------------------------------------------------- checks and one-knob configs
def check_search_request(config: SearchConfig, *, duration: float | None = None,
                         max_rows: int = MAX_SEARCH_ROWS) -> None:
    """The rules a search request must meet whatever asks (CLI, server, Python), checked
    before any model loads: no target duration (a search ranks free-running candidates) and
    an LM batch of at most ``max_rows`` rows (:func:`check_search_rows`). A threshold's
    direction is checked by :meth:`Threshold.check_direction` once its verifier is known."""
    if duration is not None:
        raise InputError("duration cannot be combined with search")
    check_search_rows(config, max_rows)


def config_for_budget(strategy: str, budget: int, verifiers: tuple = (),
                      chunk_tokens: int = 25) -> SearchConfig:
    """A config whose LM batch holds at most ``budget`` rows (the server's and the
    evaluation's single "budget" knob).

    ``best-of-n``: N = budget. ``beam``: K = 2, B = budget // 2 (K = 1 for budget 1).
    ``partial``: that beam for 1 s. ``hybrid``: M = budget final candidates after a 1 s beam
    of up to 2x2 (PRM = the ``sim``-like verifiers, default sim; ORM = the others, default wer).
    ``threshold``: max_samples = budget, target WER/CER 0 or 0.9 for higher-is-better ones.
    """
    key = strategy.strip().lower().replace("_", "-")
    budget = int(budget)
    if budget < 1:
        raise InputError(f"search budget must be >= 1, got {budget}")
    vs = tuple(verifiers)
    k = 2 if budget >= 2 else 1
    if key == "best-of-n":
        return BestOfN(budget, vs or ("wer",))
    if key == "beam":
        return Beam(budget // k, k, chunk_tokens, vs or ("sim",))
    if key == "partial":
        return PartialPRM(Beam(budget // k, k, chunk_tokens, vs or ("sim",)), prm_seconds=1.0)
    if key == "hybrid":
        prm = tuple(v for v in vs if "sim" in str(v)) or ("sim",)
        orm = tuple(v for v in vs if "sim" not in str(v)) or ("wer",)
        return Hybrid(Beam(min(2, budget // k), k, chunk_tokens, prm), prm_seconds=1.0,
                      final_candidates=budget, orm_verifiers=orm)
    if key == "threshold":
        v = vs[0] if vs else "wer"
        return Threshold(v, 0.0 if v in ("wer", "cer") else 0.9, max_samples=budget)
    raise InputError(f"unknown search strategy {strategy!r}; use best-of-n, beam, partial, "
                     "hybrid or threshold")
