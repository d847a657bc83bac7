"""Tiny Llasa LMs for tests and small experiments, built fully offline.

The tokenizer mirrors the official layout at a small scale: a byte-level base vocabulary (256
byte tokens) followed by Llama-3-style special tokens (``<|begin_of_text|>`` ...
``<|eot_id|>``, padded with reserved ones), then the 8 Llasa added tokens in order, then
``<|s_0|>`` .. ``<|s_{K-1}|>``. It carries a Llama-3.2-style chat template, so prompts are built
exactly as for the official checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._common.errors import InputError
from .tokens import ADDED_TOKENS, speech_token_strings

# Llama-3.2-Instruct-style template: a system block with the knowledge/today dates, one
# header + trimmed content + <|eot_id|> per turn. ``date_string`` may be passed to
# apply_chat_template; otherwise today's date (strftime_now) or the Llama fallback is used.
LLAMA3_CHAT_TEMPLATE = (
    "{{- bos_token }}"
    "{%- if not date_string is defined %}"
    "{%- if strftime_now is defined %}{%- set date_string = strftime_now('%d %b %Y') %}"
    "{%- else %}{%- set date_string = '26 Jul 2024' %}{%- endif %}{%- endif %}"
    "{%- if messages[0]['role'] == 'system' %}"
    "{%- set system_message = messages[0]['content'] | trim %}{%- set messages = messages[1:] %}"
    "{%- else %}{%- set system_message = '' %}{%- endif %}"
    "{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' }}"
    "{{- 'Cutting Knowledge Date: December 2023\\n' }}"
    "{{- 'Today Date: ' + date_string + '\\n\\n' }}"
    "{{- system_message }}{{- '<|eot_id|>' }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + "
    "message['content'] | trim + '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{%- endif %}"
)

# Llama-3 special tokens that the template and generation use (the rest are reserved).
LLAMA3_SPECIALS = ("<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                   "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>")


@dataclass
class TinyLMConfig:
    """Shape of a tiny Llasa LM and its tokenizer.

    Attributes:
        codebook_size: number of speech tokens (a power of 4 matches FSQ codebooks; 65536 is
            the official size).
        num_reserved_special: special-token slots after the 256 byte tokens (Llama 3 has 256).
        hidden_size, num_layers, num_heads, num_kv_heads, intermediate_size: Llama shape.
        max_position_embeddings: context length (2048 as Llasa).
        tie_word_embeddings: Llasa-1B/3B tie input and output embeddings.
    """

    codebook_size: int = 4096
    num_reserved_special: int = 16
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 128
    max_position_embeddings: int = 2048
    tie_word_embeddings: bool = True
    rope_theta: float = 500000.0

    def __post_init__(self):
        if self.codebook_size < 2:
            raise InputError(f"codebook_size must be >= 2, got {self.codebook_size}")
        if self.num_reserved_special < len(LLAMA3_SPECIALS):
            raise InputError(f"num_reserved_special must be >= {len(LLAMA3_SPECIALS)}")
        if self.hidden_size % self.num_heads or self.num_heads % self.num_kv_heads:
            raise InputError("hidden_size must divide by num_heads, num_heads by num_kv_heads")
        if min(self.hidden_size, self.num_layers, self.intermediate_size) < 1:
            raise InputError("hidden_size, num_layers and intermediate_size must be positive")

    @property
    def base_vocab_size(self) -> int:
        return 256 + self.num_reserved_special

    @property
    def vocab_size(self) -> int:
        return self.base_vocab_size + len(ADDED_TOKENS) + self.codebook_size


def tiny_tokenizer(codebook_size: int = 4096, num_reserved_special: int = 16):
    """Byte-level BPE tokenizer (no merges) with Llama-3 specials, Llasa tokens and a chat template.

    Returns:
        transformers.PreTrainedTokenizerFast with ``len == 256 + num_reserved_special + 8 +
        codebook_size``.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    cfg = TinyLMConfig(codebook_size=codebook_size, num_reserved_special=num_reserved_special)
    alphabet = pre_tokenizers.ByteLevel.alphabet()  # the 256 byte symbols, as GPT-2/Llama-3 use
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    specials = list(LLAMA3_SPECIALS) + [
        f"<|reserved_special_token_{i}|>"
        for i in range(cfg.num_reserved_special - len(LLAMA3_SPECIALS))]
    tok.add_special_tokens(specials)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>",
        pad_token="<|eot_id|>")  # pad = eos = <|eot_id|>, as Llasa sets it
    # Llasa adds its tokens with add_tokens (normal, not special) in this order.
    fast.add_tokens(list(ADDED_TOKENS))
    fast.add_tokens(speech_token_strings(codebook_size))
    fast.chat_template = LLAMA3_CHAT_TEMPLATE
    if len(fast) != cfg.vocab_size:  # guards the id layout the docstring promises
        raise AssertionError(f"tiny tokenizer has {len(fast)} ids, expected {cfg.vocab_size}")
    return fast


def tiny_llama_config(cfg: TinyLMConfig, tokenizer):
    """The ``LlamaConfig`` of a tiny Llasa LM matching ``tokenizer``'s ids."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size, num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads, num_key_value_heads=cfg.num_kv_heads,
        max_position_embeddings=cfg.max_position_embeddings,
        tie_word_embeddings=cfg.tie_word_embeddings, rope_theta=cfg.rope_theta,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id)


def tiny_lm(*, codebook_size: int = 4096, hidden_size: int = 64, num_layers: int = 2,
            seed: int = 0, device=None, dtype=None, **kwargs):
    """A randomly initialised tiny :class:`~llasa.lm.model.LlasaLM`.

    Args:
        codebook_size: number of speech tokens.
        hidden_size, num_layers: model shape; other :class:`TinyLMConfig` fields via kwargs.
        seed: weight-init seed (same seed → same weights).
        device, dtype: where to put it (default CPU, fp32).
    """
    import torch
    from transformers import LlamaForCausalLM

    from .model import LlasaLM

    cfg = TinyLMConfig(codebook_size=codebook_size, hidden_size=hidden_size,
                       num_layers=num_layers, **kwargs)
    tok = tiny_tokenizer(codebook_size, cfg.num_reserved_special)
    lcfg = tiny_llama_config(cfg, tok)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(lcfg)
    model.eval()
    return LlasaLM(model, tok, device=device, dtype=dtype)
