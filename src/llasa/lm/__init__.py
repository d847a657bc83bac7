"""llasa.lm: the Llasa speech LM (vocabulary, exact prompts, loading, fast sampling).

Public API::

    from llasa.lm import LlasaLM, GenerationSettings, tiny_lm
    lm = LlasaLM.from_pretrained("HKUSTAudio/Llasa-1B", dtype="bf16")
    ids = lm.build_prompt("Hello there.")
    [[gen]] = lm.generate([ids], GenerationSettings(seed=0))

Names load lazily: the torch-free modules (``tokens``, ``prompt``, ``frontend``, ``settings``,
``onnx_lm``) stay importable without torch, which the ONNX engine's cold start needs.
"""

import importlib

# public name -> submodule that defines it
_WHERE = {
    "BatchRequest": "batcher", "ContinuousBatcher": "batcher",
    "DecodeState": "decoding", "Generation": "model", "LlasaLM": "model",
    "build_tts_prompt": "prompt", "parse_speech": "prompt",
    "GenerationSettings": "settings", "max_new_tokens_for_text": "settings",
    "token_budget": "settings",
    "TinyLMConfig": "tiny", "tiny_lm": "tiny", "tiny_tokenizer": "tiny",
    "ADDED_TOKENS": "tokens", "SpeechVocab": "tokens",
}

__all__ = sorted(_WHERE)


def __getattr__(name):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'llasa.lm' has no attribute {name!r}")
