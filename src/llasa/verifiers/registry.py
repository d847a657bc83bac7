"""Build verifiers from short specs (the strings the CLI and the server accept).

=====================  =====================================================  ==============
spec                   verifier                                               better
=====================  =====================================================  ==============
``sim``                resemblyzer speaker similarity to the reference voice  higher, [0, 1]
``wer``                bundled Whisper tiny.en WER (CER for zh/ja/...)        lower, >= 0
``cer``                bundled Whisper tiny.en CER                            lower, >= 0
``mos``                DNSMOS overall MOS (``mos-sig``, ``mos-bak``,          higher, [1, 5]
                       ``mos-p808`` for the other DNSMOS heads)
``distillmos``         DistillMOS                                             higher, [1, 5]
``hf-asr:<id|dir>``    transformers Whisper (any size) WER/CER                lower, >= 0
``wavlm-sim:<id|dir>`` WavLM x-vector speaker similarity                      higher, [-1, 1]
``0.7*wer+0.3*sim``    :class:`CombinedVerifier` of the terms (weight 1 when  higher, [0, 1]
                       omitted)
=====================  =====================================================  ==============
"""

from __future__ import annotations

import re

from .._common.errors import InputError
from .asr import ASRVerifier, Transcriber
from .base import Verifier
from .combined import CombinedVerifier
from .hf_asr import HFWhisperTranscriber
from .quality import DistillMOSVerifier, DNSMOSVerifier
from .speaker import SpeakerSimilarity, WavLMSimilarity

#: The single-verifier specs (``hf-asr:`` and ``wavlm-sim:`` take a model after the colon).
KNOWN_SPECS = ("sim", "wer", "cer", "mos", "mos-sig", "mos-bak", "mos-p808", "distillmos",
               "hf-asr:<id>", "wavlm-sim:<id>")
_TERM = re.compile(r"\s*(?:([0-9]*\.?[0-9]+(?:e-?[0-9]+)?)\s*\*\s*)?(\S+?)\s*")


def _build_one(spec: str, transcriber=None, **kw) -> Verifier:
    if spec == "sim":
        return SpeakerSimilarity(**kw)
    if spec in ("wer", "cer"):
        # "wer" switches to CER for languages written without spaces (zh, ja, ...).
        if transcriber is None and kw:  # e.g. device="cuda": the verifier's own Transcriber
            transcriber = Transcriber(**kw)
        return ASRVerifier("auto" if spec == "wer" else "cer", transcriber, name=spec)
    if spec == "mos" or spec in ("mos-sig", "mos-bak", "mos-p808"):
        return DNSMOSVerifier(field="ovrl" if spec == "mos" else spec[4:], **kw)
    if spec == "distillmos":
        return DistillMOSVerifier(**kw)
    kind, _, model = spec.partition(":")
    if kind in ("hf-asr", "wavlm-sim") and not model:
        raise InputError(f"verifier spec {spec!r} needs a model id or directory after the colon, "
                         f"e.g. '{kind}:{'openai/whisper-large-v3' if kind == 'hf-asr' else 'microsoft/wavlm-base-plus-sv'}'")
    if kind == "hf-asr":
        return ASRVerifier("auto", HFWhisperTranscriber(model, **kw), name=spec)
    if kind == "wavlm-sim":
        return WavLMSimilarity(model, **kw)
    raise InputError(f"unknown verifier {spec!r}; known: {', '.join(KNOWN_SPECS)}, "
                     "or a weighted sum such as '0.7*wer+0.3*sim'")


def parse_weighted(spec: str) -> list[tuple[str, float]]:
    """``"0.7*wer+0.3*sim"`` → ``[("wer", 0.7), ("sim", 0.3)]`` (weight 1 when omitted)."""
    terms = []
    for part in spec.split("+"):
        m = _TERM.fullmatch(part)
        if not m or not m.group(2):
            raise InputError(f"cannot read the verifier term {part!r} in {spec!r}; "
                             "write e.g. '0.7*wer+0.3*sim'")
        weight = float(m.group(1)) if m.group(1) else 1.0
        if weight <= 0:
            raise InputError(f"verifier weights must be > 0, got {weight} in {spec!r}")
        terms.append((m.group(2), weight))
    return terms


def build_verifier(spec: str, **kw) -> Verifier:
    """Build a verifier from a spec (see the module table). Loads nothing until it scores.

    Args:
        spec: e.g. "sim", "wer", "hf-asr:openai/whisper-large-v3", "0.7*wer+0.3*sim".
        **kw: passed to the verifier's constructor (e.g. ``device="cuda"``, or
            ``transcriber=`` to share one ASR model between "wer" and "cer").

    Raises:
        InputError: unknown spec or constructor argument.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise InputError(f"a verifier spec must be a non-empty string, got {spec!r}")
    spec = spec.strip()
    try:
        if "+" in spec or "*" in spec:
            terms = parse_weighted(spec)
            return CombinedVerifier([(_build_one(s, **kw), w) for s, w in terms])
        return _build_one(spec, **kw)
    except TypeError as e:
        raise InputError(f"bad option for verifier {spec!r}: {e}") from None


class VerifierRegistry:
    """Builds verifiers on demand and keeps one instance per spec (no module-level cache).

    "wer", "cer" and auto-transcription share one bundled :class:`Transcriber`, so the ASR model
    loads once. Give one registry to a search engine or a server for its lifetime.

    Args:
        transcriber: the shared ASR model (default: bundled tiny.en, created lazily).
        **kw: default constructor options for every verifier built (e.g. ``device``).
    """

    def __init__(self, transcriber: Transcriber | None = None, **kw):
        self._transcriber = transcriber
        self._kw = kw
        self._cache: dict[str, Verifier] = {}

    @property
    def transcriber(self) -> Transcriber:
        """The shared ASR model (for voice-prompt auto-transcription as well)."""
        if self._transcriber is None:
            self._transcriber = Transcriber()
        return self._transcriber

    def get(self, spec: str) -> Verifier:
        """The verifier for ``spec``, built on first request and cached afterwards."""
        key = spec.strip() if isinstance(spec, str) else spec
        if key not in self._cache:
            terms = parse_weighted(key) if isinstance(key, str) and ("+" in key or "*" in key) \
                else None
            if terms:
                self._cache[key] = CombinedVerifier([(self.get(s), w) for s, w in terms])
            elif key in ("wer", "cer"):
                self._cache[key] = _build_one(key, transcriber=self.transcriber)
            else:
                self._cache[key] = build_verifier(key, **self._kw)
        return self._cache[key]


def check_reference(specs, has_reference: bool, remedy: str = "give a voice") -> None:
    """Refuse speaker-similarity specs (``sim``, ``wavlm-sim:...``, weighted sums with them)
    when there is no voice prompt to compare with; the rule of every front end, which words
    the ``remedy`` in its own terms (a CLI flag, a request field)."""
    if not has_reference and any("sim" in str(s) for s in specs):
        raise InputError(f"speaker similarity ('sim') compares with a voice prompt: {remedy}, "
                         "or use another verifier (wer, mos)")
