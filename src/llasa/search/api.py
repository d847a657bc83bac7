"""Entry points: :func:`search`, the reusable :class:`Searcher`, and adapters for the server
(:func:`search_request`) and the evaluation (:func:`build_strategy`).

``Llasa.synthesize(text, voice, search=...)`` accepts a :class:`Searcher` or any search config
(they implement the ``llasa.tts.types.SearchStrategy`` protocol: ``run(tts, text, voice,
settings)``); ``llasa.tts`` never imports this package (layer rule).
"""

from __future__ import annotations

from typing import Any

from .._common.errors import InputError
from ..verifiers import VerifierRegistry
from .config import Beam, BestOfN, Hybrid, PartialPRM, SearchConfig, Threshold, parse_search
from .engine import SearchRun
from .limits import available_bytes, check_search_memory, check_search_rows
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
            pass one to reuse loaded models across calls, or use a :class:`Searcher`).
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
    check_search_rows(config)
    settings = tts.make_settings(settings, **sampling)
    run = SearchRun(tts, text, voice, settings, registry or VerifierRegistry(),
                    language=language, budget=config.budget, should_stop=should_stop)
    lm = getattr(tts.lm, "model", None)
    if lm is not None and hasattr(lm, "config"):  # torch LMs: refuse before the cache exists
        check_search_memory(config, lm.config, len(run.prompt) + run.cap,
                            lm.dtype.itemsize, available_bytes(lm.device))
    return fn(run, config)


class Searcher:
    """A search config + a verifier registry, reusable across requests (models load once).

    Use it as ``tts.synthesize(text, voice, search=Searcher(BestOfN(8, ("wer",))))``.

    Args:
        config: a search config or spec string.
        registry: verifier registry (default: a new one, owned by this searcher).
        language: language of the texts.
    """

    def __init__(self, config: SearchConfig | str, registry: VerifierRegistry | None = None,
                 language: str = "en"):
        self.config = parse_search(config) if isinstance(config, str) else config
        if type(self.config) not in STRATEGIES:
            raise InputError(f"not a search config: {type(self.config).__name__}")
        self.registry = registry or VerifierRegistry()
        self.language = language

    def run(self, tts: Any, text: str, voice: Any = None, settings: Any = None) -> SearchResult:
        """The ``SearchStrategy`` protocol of :meth:`llasa.tts.Llasa.synthesize`."""
        return search(tts, text, voice, self.config, settings=settings, registry=self.registry,
                      language=self.language)


# ------------------------------------------------------------------- server / eval adapters
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


def config_from_request(body: dict) -> SearchConfig:
    """The server's ``search`` body (``strategy``, ``budget``, ``verifiers``, ``chunk_tokens``)
    as a config (see :func:`config_for_budget`)."""
    return config_for_budget(body.get("strategy", "best_of_n"), body.get("budget", 4),
                             tuple(body.get("verifiers") or ()),
                             int(body.get("chunk_tokens") or 25))


def build_strategy(name: str, tts: Any, settings: Any, *, verifier_spec: str = "sim",
                   registry: VerifierRegistry | None = None):
    """An evaluation strategy ``(items, budget) -> [(audio [n], info)]`` for ``name``
    (``best-of-n``, ``beam``, ``partial``, ``hybrid``, ``threshold``; ``budget`` as in
    :func:`config_for_budget`).

    ``info["compute"]`` is the LM tokens the search sampled (the x axis of scaling curves).
    """
    from ..tts.voices import Voice

    registry = registry or VerifierRegistry()
    config_for_budget(name, 1, (verifier_spec,))  # unknown names fail now

    def run(items, budget: int):
        out = []
        for it in items:
            voice = None if it.prompt_wav is None else Voice.from_audio(
                tts.codec, it.prompt_wav, it.prompt_text)
            res = search(tts, it.target_text, voice,
                         config_for_budget(name, budget, (verifier_spec,)), settings=settings,
                         registry=registry, language=it.language)
            out.append((res.audio, {"tokens": int(res.info["tokens"]), "ended": res.info["ended"],
                                    "compute": res.compute.lm_tokens,
                                    "verifier_calls": res.compute.verifier_calls,
                                    "search": res.strategy,
                                    "search_scores": {k: float(v) for k, v in
                                                      res.scores.items()}}))
        return out

    return run
