"""llasa: Llama-based speech synthesis in the tokens of the X-codec2 codec.

Public surface: :class:`Llasa` (the TTS pipeline), :class:`Codec`, ``__version__``.
Imports are lazy so that ``import llasa`` loads no model and no torch.
"""

__version__ = "0.1.0"
__all__ = ["Llasa", "Codec", "__version__"]


def __getattr__(name):
    if name == "Llasa":
        from .tts.pipeline import Llasa

        return Llasa
    if name == "Codec":
        from .codec.model import Codec

        return Codec
    raise AttributeError(f"module 'llasa' has no attribute {name!r}")
