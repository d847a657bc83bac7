"""The Llasa vocabulary: base text vocabulary + 8 added tokens + speech tokens ``<|s_k|>``.

Officially (Llama-3 tokenizer, 128 256 ids) the 8 added tokens take ids 128256..128263 in the
order of :data:`ADDED_TOKENS` and ``<|s_k|>`` = 128264 + k for k < 65 536 (193 800 ids in all).
We never hard-code those numbers: :meth:`SpeechVocab.from_tokenizer` finds them in the tokenizer
and checks that the speech tokens are contiguous, so tiny tokenizers work the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._common.errors import InputError, ModelLoadError

# The 8 tokens Llasa adds with ``tokenizer.add_tokens`` (order matters: it fixes their ids).
ADDED_TOKENS = (
    "<|TEXT_GENERATION_START|>",
    "<|TEXT_GENERATION_END|>",
    "<|TEXT_UNDERSTANDING_START|>",
    "<|TEXT_UNDERSTANDING_END|>",
    "<|SPEECH_GENERATION_START|>",
    "<|SPEECH_GENERATION_END|>",
    "<|SPEECH_UNDERSTANDING_START|>",
    "<|SPEECH_UNDERSTANDING_END|>",
)
_FIELDS = ("text_gen_start", "text_gen_end", "text_start", "text_end",
           "speech_start", "speech_end", "speech_und_start", "speech_und_end")
OFFICIAL_SPEECH_OFFSET = 128264  # 128 256 Llama-3 ids + the 8 added tokens
OFFICIAL_CODEBOOK_SIZE = 65536  # X-codec2 FSQ 4^8


def speech_token(code: int) -> str:
    """Token string of codec code ``code`` (``<|s_123|>``)."""
    return f"<|s_{int(code)}|>"


def speech_token_strings(codebook_size: int) -> list[str]:
    """All speech token strings in id order, for building a vocabulary."""
    return [speech_token(k) for k in range(codebook_size)]


@dataclass(frozen=True)
class SpeechVocab:
    """Ids of Llasa's added tokens and the speech-token range of one tokenizer.

    Attributes:
        text_gen_start .. speech_und_end: ids of the 8 added tokens (see :data:`ADDED_TOKENS`).
        speech_offset: id of ``<|s_0|>`` (128264 officially).
        codebook_size: number of speech tokens (65536 officially).
        vocab_size: ``len(tokenizer)``.
    """

    text_gen_start: int
    text_gen_end: int
    text_start: int
    text_end: int
    speech_start: int
    speech_end: int
    speech_und_start: int
    speech_und_end: int
    speech_offset: int
    codebook_size: int
    vocab_size: int

    @classmethod
    def from_tokenizer(cls, tok) -> "SpeechVocab":
        """Find the Llasa token ids in a (transformers) tokenizer.

        Raises:
            ModelLoadError: the tokenizer lacks an added token or the speech tokens, or the
                speech tokens are not one contiguous id range.
        """
        ids = {}
        for field, name in zip(_FIELDS, ADDED_TOKENS):
            ids[field] = _token_id(tok, name)
            if ids[field] is None:
                raise ModelLoadError(
                    f"tokenizer has no {name} token: not a Llasa tokenizer (it needs the 8 added "
                    f"tokens {', '.join(ADDED_TOKENS)} and the speech tokens <|s_0|>, <|s_1|>, ...)")
        offset = _token_id(tok, speech_token(0))
        if offset is None:
            raise ModelLoadError("tokenizer has no speech tokens (<|s_0|> is missing): "
                                 "not a Llasa tokenizer")
        size = _contiguous_count(tok, offset)
        return cls(**ids, speech_offset=offset, codebook_size=size, vocab_size=len(tok))

    # ---- code <-> id ------------------------------------------------------------------------
    def code_to_id(self, codes) -> np.ndarray:
        """Codec codes [T] → LM token ids [T] (int64). Raises InputError on out-of-range codes."""
        c = np.asarray(codes, dtype=np.int64).reshape(-1)
        if c.size and (c.min() < 0 or c.max() >= self.codebook_size):
            raise InputError(f"speech codes must lie in [0, {self.codebook_size}); "
                             f"got values in [{c.min()}, {c.max()}]")
        return c + self.speech_offset

    def id_to_code(self, ids) -> np.ndarray:
        """LM token ids [T] → codec codes [T] (int64). Raises InputError on non-speech ids."""
        i = np.asarray(ids, dtype=np.int64).reshape(-1)
        bad = ~self.is_speech(i)
        if bad.any():
            raise InputError(f"ids {i[bad][:5].tolist()} are not speech tokens "
                             f"([{self.speech_offset}, {self.speech_offset + self.codebook_size}))")
        return i - self.speech_offset

    def is_speech(self, ids) -> np.ndarray:
        """Boolean mask [T]: which ids are speech tokens."""
        i = np.asarray(ids, dtype=np.int64)
        return (i >= self.speech_offset) & (i < self.speech_offset + self.codebook_size)

    def check_prompt(self, ids) -> None:
        """Raise InputError unless ``ids`` is a non-empty prompt of ids in this vocabulary."""
        if len(ids) == 0:
            raise InputError("a prompt is empty")
        lo, hi = min(ids), max(ids)
        if lo < 0 or hi >= self.vocab_size:
            raise InputError(f"prompt ids must lie in [0, {self.vocab_size}); got [{lo}, {hi}]")


def _token_id(tok, name: str) -> int | None:
    tid = tok.convert_tokens_to_ids(name)
    if tid is None or (tok.unk_token_id is not None and tid == tok.unk_token_id
                       and name != tok.unk_token):
        return None
    return int(tid)


def _contiguous_count(tok, offset: int) -> int:
    """Number of speech tokens <|s_0|>.. that sit at consecutive ids starting at ``offset``."""
    n = len(tok) - offset
    # Tokenizers may carry extra tokens after the speech block: walk back to the last <|s_k|>.
    while n > 0 and _token_id(tok, speech_token(n - 1)) is None:
        n -= 1
    for k in sorted({0, 1, n // 3, n // 2, n - 2, n - 1}):
        if 0 <= k < n and _token_id(tok, speech_token(k)) != offset + k:
            raise ModelLoadError(
                f"speech tokens are not contiguous: {speech_token(k)} has id "
                f"{_token_id(tok, speech_token(k))}, expected {offset + k}")
    if n <= 0:
        raise ModelLoadError("tokenizer has no speech tokens")
    return n
