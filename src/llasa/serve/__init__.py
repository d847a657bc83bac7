"""Layer 7: the HTTP server (FastAPI): OpenAI-compatible speech, voices, scores, a web page.

Public API: :func:`create_app`, :class:`ServeSettings`, :class:`LlasaEngine`,
:func:`load_engine`. Imports are lazy so that ``import llasa.serve`` loads neither FastAPI nor
torch.
"""

from .config import ServeSettings

__all__ = ["ServeSettings", "create_app", "LlasaEngine", "load_engine"]


def load_engine(lm=None, codec=None, settings: ServeSettings | None = None, *, device=None,
                dtype=None, quant=None):
    """Load a :class:`llasa.tts.Llasa` pipeline and wrap it for serving."""
    from ..tts import Llasa
    from .engine import LlasaEngine

    tts = Llasa.from_pretrained(lm=lm, codec=codec, device=device, dtype=dtype, quant=quant)
    return LlasaEngine(tts, settings or ServeSettings())


def __getattr__(name):
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "LlasaEngine":
        from .engine import LlasaEngine

        return LlasaEngine
    raise AttributeError(f"module 'llasa.serve' has no attribute {name!r}")
