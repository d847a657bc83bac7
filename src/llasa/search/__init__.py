"""Layer 5: verifier-guided search (inference-time scaling).

Public API::

    from llasa.search import BestOfN, Beam, PartialPRM, Hybrid, Threshold, search
    res = search(tts, "Hello there.", voice, BestOfN(8, ("wer",)), seed=0)
    res.audio, res.scores, res.candidates, res.compute

Strategies: best-of-N (ORM), chunked beam search (PRM), partial PRM, the paper's hybrid
(partial PRM with SIM, then ORM with WER) and a threshold mode; see docs/search.md.
:func:`score_audio` scores finished audio with the same verifiers (no search).
"""

from .api import check_search_request, config_for_budget, search
from .config import Beam, BestOfN, Hybrid, PartialPRM, SearchConfig, Threshold, parse_search
from .result import Candidate, Compute, SearchResult
from .scoring import score_audio

__all__ = ["search", "check_search_request", "config_for_budget", "score_audio",
           "parse_search", "SearchConfig", "BestOfN", "Beam", "PartialPRM", "Hybrid",
           "Threshold", "SearchResult", "Candidate", "Compute"]
