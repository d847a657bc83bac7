"""Layer 2: verifiers that score candidate audio (speaker similarity, ASR error rate, MOS).

Used by :mod:`llasa.search` to pick or prune candidates and by the TTS outputs to report
scores. Every verifier follows :class:`~llasa.verifiers.base.Verifier`; build them from short
specs with :func:`build_verifier` or share instances through a :class:`VerifierRegistry`.
Importing this package loads no model (and no torch).
"""

from .asr import ASRVerifier, Transcriber
from .base import LazyVerifier, Verifier, VerifyRequest, best_index, check_audios, score_all
from .combined import CombinedVerifier, unit_score
from .hf_asr import HFWhisperTranscriber
from .quality import DistillMOSVerifier, DNSMOSVerifier
from .registry import (KNOWN_SPECS, VerifierRegistry, build_verifier, check_reference,
                       parse_weighted)
from .speaker import SpeakerSimilarity, WavLMSimilarity
from .text import cer, error_rate, normalize_text, number_to_words, wer

__all__ = [
    "Verifier", "VerifyRequest", "LazyVerifier", "score_all", "best_index", "check_audios",
    "SpeakerSimilarity", "WavLMSimilarity", "ASRVerifier", "Transcriber", "HFWhisperTranscriber",
    "DNSMOSVerifier", "DistillMOSVerifier", "CombinedVerifier", "unit_score",
    "build_verifier", "VerifierRegistry", "KNOWN_SPECS", "parse_weighted", "check_reference",
    "normalize_text", "number_to_words", "wer", "cer", "error_rate",
]
