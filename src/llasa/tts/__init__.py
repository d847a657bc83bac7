"""Layer 4: the synthesis pipeline (text → LM speech tokens → codec → 16 kHz audio).

Public API: :class:`Llasa` (pipeline), :class:`Voice`, :class:`VoiceRegistry`,
:class:`SynthesisResult`, :class:`GenerationSettings` (re-exported from ``llasa.lm``),
:class:`TextLimits`. Names that need torch load lazily, so ``llasa.tts.voices`` and
``llasa.tts.text`` stay light.
"""

from .text import TextLimits, chunk_text, normalize_text
from .types import SynthesisResult, duration_to_tokens
from .voices import Voice, VoiceRegistry

__all__ = ["Llasa", "Voice", "VoiceRegistry", "SynthesisResult", "GenerationSettings",
           "TextLimits", "AudioStream", "chunk_text", "normalize_text", "duration_to_tokens"]


def __getattr__(name):
    if name == "Llasa":
        from .pipeline import Llasa

        return Llasa
    if name == "GenerationSettings":
        from ..lm.settings import GenerationSettings

        return GenerationSettings
    if name == "AudioStream":
        from .streaming import AudioStream

        return AudioStream
    raise AttributeError(f"module 'llasa.tts' has no attribute {name!r}")
