"""llasa.lm: the Llasa speech LM (vocabulary, exact prompts, loading, fast sampling).

Public API::

    from llasa.lm import LlasaLM, GenerationSettings, tiny_lm
    lm = LlasaLM.from_pretrained("HKUSTAudio/Llasa-1B", dtype="bf16")
    ids = lm.build_prompt("Hello there.")
    [[gen]] = lm.generate([ids], GenerationSettings(seed=0))
"""

from .decoding import DecodeState
from .model import Generation, LlasaLM
from .prompt import build_tts_prompt, parse_speech
from .sampling import GenerationSettings, max_new_tokens_for_text
from .tiny import TinyLMConfig, tiny_lm, tiny_tokenizer
from .tokens import ADDED_TOKENS, SpeechVocab

__all__ = ["ADDED_TOKENS", "DecodeState", "Generation", "GenerationSettings", "LlasaLM",
           "SpeechVocab", "TinyLMConfig", "build_tts_prompt", "max_new_tokens_for_text",
           "parse_speech", "tiny_lm", "tiny_tokenizer"]
