"""Layer 5: verifier-guided search (inference-time scaling).

Public API::

    from llasa.search import BestOfN, Beam, PartialPRM, Hybrid, Threshold, Searcher, search
    res = search(tts, "Hello there.", voice, BestOfN(8, ("wer",)), seed=0)
    res.audio, res.scores, res.candidates, res.compute
    tts.synthesize("Hello there.", voice, search=Searcher("hybrid:2x4x25:1.0:4"))

Strategies: best-of-N (ORM), chunked beam search (PRM), partial PRM, the paper's hybrid
(partial PRM with SIM, then ORM with WER) and a threshold mode; see docs/search.md.
"""

from .api import Searcher, build_strategy, config_for_budget, config_from_request, search
from .config import Beam, BestOfN, Hybrid, PartialPRM, SearchConfig, Threshold, parse_search
from .result import Candidate, Compute, SearchResult

__all__ = ["search", "Searcher", "build_strategy", "config_for_budget", "config_from_request",
           "parse_search", "SearchConfig", "BestOfN", "Beam", "PartialPRM", "Hybrid",
           "Threshold", "SearchResult", "Candidate", "Compute"]
