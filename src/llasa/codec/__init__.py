"""Layer 2: the X-codec2 speech codec (16 kHz ↔ 50 tokens/s, 65 536 codes).

Public API: :class:`Codec` (encode, decode, decode_stream, from_pretrained, from_config,
save_pretrained), :class:`StreamSettings`, ``presets.tiny()`` / ``presets.full()``.
Imported lazily so that ``import llasa.codec`` loads neither torch nor transformers.
"""

__all__ = ["Codec", "StreamSettings", "presets"]


def __getattr__(name):
    if name == "Codec":
        from .model import Codec

        return Codec
    if name == "StreamSettings":
        from .streaming import StreamSettings

        return StreamSettings
    if name == "presets":
        import importlib

        return importlib.import_module(f"{__name__}.presets")
    raise AttributeError(f"module 'llasa.codec' has no attribute {name!r}")
