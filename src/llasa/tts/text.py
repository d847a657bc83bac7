"""Text clean-up and sentence chunking for long inputs.

Llasa reads raw text through a BPE tokenizer, so normalisation here is deliberately light:
Unicode NFKC, control characters removed, whitespace collapsed, typographic quotes and dashes
mapped to ASCII. Numbers and abbreviations are *not* expanded (the official recipe does not
either; the LM learned to read them from data).

Long text is split into sentences, and sentences are packed greedily into chunks of at most
``max_chars`` characters. A sentence longer than that is split at clause punctuation, then at
spaces, then (for scripts without spaces) at the character limit.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .._common.errors import InputError

# Curly quotes and dashes read the same to a listener; mapping them keeps the BPE in-domain.
_TRANSLATE = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"',
    "\u2013": "-", "\u2014": " - ", "\u2212": "-", "\u00a0": " ",
})
# Sentence end: terminal punctuation (Latin and CJK), optional closing quote/bracket.
_SENT_END = re.compile(r"""([.!?\u3002\uff01\uff1f\u2026]+["')\]\u300d\u300f]*)(\s+|$)|"""
                       r"""([\u3002\uff01\uff1f]+)""")
_CLAUSE = re.compile(r"(?<=[,;:\uff0c\uff1b\uff1a\u3001])\s*")
# Common abbreviations whose period does not end a sentence.
_ABBREV = {"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "no",
           "fig", "mt", "lt", "col", "gen", "inc", "ltd", "co", "approx", "dept"}


@dataclass(frozen=True)
class TextLimits:
    """Bounds on input text.

    Attributes:
        max_chars: longest accepted input (after normalisation); longer text is an error.
        chunk_chars: chunk size for long-text synthesis. At ~12-15 characters per second of
            speech, 200 characters are ~15 s of audio (~750 tokens), which leaves room in the
            2048-token context for a 15 s voice prompt or a carried-over previous chunk
            (community Llasa apps allow up to 300 characters per call, with a voice prompt
            that is close to the context limit).
        carry: long text: prompt each chunk with the previous chunk's text and codes (after
            the voice), so speaker and prosody continue. False: every chunk is prompted by the
            voice alone. Small models trained on short sequences lose the voice or stop
            early when carried (measured on the shipped model: docs/default_model.md). None:
            what the model's ``config.json`` declares (``llasa_long_text``), else True.
    """

    max_chars: int = 20_000
    chunk_chars: int = 200
    carry: bool | None = None

    def __post_init__(self):
        if self.max_chars < 1:
            raise InputError("TextLimits.max_chars must be >= 1")
        if not (1 <= self.chunk_chars <= self.max_chars):
            raise InputError("TextLimits.chunk_chars must be in [1, max_chars]")
        if self.carry is not None and not isinstance(self.carry, bool):
            raise InputError(f"TextLimits.carry must be True, False or None, got {self.carry!r}")


def normalize_text(text: str) -> str:
    """Light, meaning-preserving clean-up (see module docstring). Returns '' for blank input."""
    if not isinstance(text, str):
        raise InputError(f"text must be a string, got {type(text).__name__}")
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE)
    # Newlines/tabs become spaces; other control and format characters are dropped.
    text = "".join(" " if ch in "\n\r\t\v\f" else ch for ch in text
                   if ch in "\n\r\t\v\f" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))
    return re.sub(r"\s+", " ", text).strip()


def check_text(text: str, limits: TextLimits = TextLimits(), name: str = "text") -> str:
    """Normalise ``text`` and enforce ``limits``: empty or over-long text is an InputError."""
    clean = normalize_text(text)
    if not clean:
        raise InputError(f"{name} is empty; give some words to speak")
    if len(clean) > limits.max_chars:
        raise InputError(f"{name} is {len(clean)} characters long, over the limit of "
                         f"{limits.max_chars} (raise the limit or split the text)")
    return clean


def split_sentences(text: str) -> list[str]:
    """Split normalised text into sentences, keeping their punctuation.

    A period after a known abbreviation ("Dr.", "e.g.") or a single capital ("J.") does not
    end a sentence.
    """
    text = normalize_text(text)
    out: list[str] = []
    start = 0
    for m in _SENT_END.finditer(text):
        end = m.end(1) if m.group(1) else m.end(3)
        piece = text[start:end].strip()
        last_word = piece.rsplit(" ", 1)[-1].rstrip(".").lower() if piece else ""
        if m.group(1) and m.group(1) == "." and m.end() < len(text) and (
                last_word in _ABBREV or (len(last_word) == 1 and last_word.isalpha())):
            continue
        if piece:
            out.append(piece)
        start = m.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def _split_long(sentence: str, max_chars: int) -> list[str]:
    """Split one over-long sentence at clauses, then spaces, then hard at ``max_chars``."""
    parts: list[str] = []
    for clause in _CLAUSE.split(sentence):
        if len(clause) <= max_chars:
            parts.append(clause)
            continue
        words, cur = clause.split(" "), ""
        for w in words:
            while len(w) > max_chars:  # no spaces (e.g. CJK): cut at the limit
                if cur:
                    parts.append(cur)
                    cur = ""
                parts.append(w[:max_chars])
                w = w[max_chars:]
            cand = f"{cur} {w}" if cur else w
            if len(cand) <= max_chars:
                cur = cand
            else:
                parts.append(cur)
                cur = w
        if cur:
            parts.append(cur)
    return _pack([p for p in parts if p.strip()], max_chars)


def _pack(pieces: list[str], max_chars: int) -> list[str]:
    chunks: list[str] = []
    cur = ""
    for p in pieces:
        cand = f"{cur} {p}" if cur else p
        if len(cand) <= max_chars:
            cur = cand
        else:
            if cur:
                chunks.append(cur)
            cur = p
    if cur:
        chunks.append(cur)
    return chunks


def chunk_text(text: str, max_chars: int = 300) -> list[str]:
    """Split text into chunks of at most ``max_chars`` characters on sentence boundaries.

    Sentences are packed greedily, so consecutive short sentences share a chunk; a sentence
    longer than ``max_chars`` is split at clause punctuation or spaces. Joining the chunks with
    single spaces gives back the normalised text.

    Args:
        text: any text (normalised here).
        max_chars: chunk size limit (>= 1).

    Returns:
        Non-empty chunks, in order; ``[]`` for blank text.
    """
    if max_chars < 1:
        raise InputError("max_chars must be >= 1")
    pieces: list[str] = []
    for s in split_sentences(text):
        pieces.extend([s] if len(s) <= max_chars else _split_long(s, max_chars))
    return _pack(pieces, max_chars)
