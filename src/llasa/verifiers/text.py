"""Text normalisation and error rates (WER / CER) shared by the ASR verifier and evaluation.

Normalisation (applied to reference *and* hypothesis the same way, so only wording counts):

1. Unicode NFKC, lower case.
2. English only: written forms are read as people say them, by the same normaliser the LM
   frontend ``normalize:en`` and the corpus synthesiser use
   (:func:`llasa._common.textnorm.normalize_english`): "$34.31" → "thirty-four dollars and
   thirty-one cents", "10:45" → "ten forty-five", "1926" → "nineteen twenty-six", "2005" → "two
   thousand five", "3 May 2021" → "the third of May, twenty twenty-one", "21" → "twenty-one",
   "3.5" → "three point five", "2nd" → "second", "5%" → "five percent", "5 km" → "five
   kilometers", "826-4423" digit by digit. So "21" and "twenty-one" match whatever form the ASR
   prints.
3. Hyphens, dashes and slashes become spaces ("twenty-one" → "twenty one").
4. jiwer removes punctuation (every Unicode punctuation class, CJK included) and collapses
   whitespace. Apostrophes go too, so "don't" → "dont" on both sides.

Languages written without spaces (:data:`NO_SPACE_LANGUAGES`: zh, ja, yue, th, ...) are scored
by CER over characters with all whitespace removed; numbers there are left as written.
"""

from __future__ import annotations

import re
import unicodedata

import jiwer

from .._common.errors import InputError
from .._common.textnorm import normalize_english

#: Languages scored by characters (their text has no spaces between words).
NO_SPACE_LANGUAGES = frozenset({"zh", "cmn", "yue", "ja", "th", "lo", "my", "km", "bo"})

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_IRREGULAR = {"one": "first", "two": "second", "three": "third", "five": "fifth",
                      "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}
_SEPARATORS_RE = re.compile(r"[-\u2010-\u2015/]")
_JIWER = jiwer.Compose([jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip()])


def _below_thousand(n: int) -> list[str]:
    words = []
    if n >= 100:
        words += [_ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        words.append(_TENS[n // 10])
        n %= 10
        if n:
            words.append(_ONES[n])
    elif n or not words:
        words.append(_ONES[n])
    return words


def number_to_words(n: int, ordinal: bool = False) -> str:
    """Spell a non-negative integer in English words, without "and" or hyphens.

    Numbers of a trillion and more are read digit by digit.

    Args:
        n: the number (>= 0).
        ordinal: "first", "twenty second" instead of "one", "twenty two".

    Returns:
        e.g. ``number_to_words(1021) == "one thousand twenty one"``.
    """
    if n < 0:
        raise InputError(f"number_to_words: expected n >= 0, got {n}")
    if n >= 10**12:
        words = [_ONES[int(d)] for d in str(n)]
    else:
        words = []
        for value, name in _SCALES:
            if n >= value:
                words += _below_thousand(n // value) + [name]
                n %= value
        if n or not words:
            words += _below_thousand(n)
    if ordinal:
        last = words[-1]
        if last in _ORDINAL_IRREGULAR:
            last = _ORDINAL_IRREGULAR[last]
        elif last.endswith("y"):
            last = last[:-1] + "ieth"
        else:
            last += "th"
        words[-1] = last
    return " ".join(words)


def year_to_words(year: int) -> str:
    """Spell a year as it is said: 1987 → "nineteen eighty seven", 1900 → "nineteen hundred",
    1905 → "nineteen oh five", 2005 → "two thousand five", 2024 → "twenty twenty four"."""
    if 2000 <= year < 2010 or year < 1000:
        return number_to_words(year)
    hi, lo = divmod(year, 100)
    tail = "hundred" if lo == 0 else ("oh " + _ONES[lo] if lo < 10 else number_to_words(lo))
    return f"{number_to_words(hi)} {tail}"


def is_no_space_language(language: str) -> bool:
    """True for languages scored by characters (zh, ja, ...); ``language`` is an ISO code."""
    return language.lower().split("-")[0].split("_")[0] in NO_SPACE_LANGUAGES


def normalize_text(text: str, language: str = "en") -> str:
    """Normalise text for WER/CER scoring (see the module docstring for the exact steps).

    Args:
        text: any transcript or target text.
        language: ISO code; "en" spells numbers, no-space languages drop all whitespace.

    Returns:
        lower-case words separated by single spaces (no spaces for no-space languages).
    """
    if not isinstance(text, str):
        raise InputError(f"expected text as a string, got {type(text).__name__}")
    s = unicodedata.normalize("NFKC", text)
    if language.lower().startswith("en"):
        s = normalize_english(s)  # before lower case: "May", "St." and "Dr." need their case
    s = s.lower()
    s = _SEPARATORS_RE.sub(" ", s)
    s = _JIWER(s)
    if is_no_space_language(language):
        s = re.sub(r"\s+", "", s)
    return s


def _reference(ref: str, language: str) -> str:
    norm = normalize_text(ref, language)
    if not norm:
        raise InputError(f"the reference text {ref!r} is empty after normalisation "
                         "(no words left to score against)")
    return norm


def wer(ref: str, hyp: str, language: str = "en") -> float:
    """Word error rate of ``hyp`` against ``ref`` after :func:`normalize_text` (0 = perfect).

    It can exceed 1 when the hypothesis inserts many words. An empty hypothesis scores 1.
    Raises InputError when the reference has no words.
    """
    r, h = _reference(ref, language), normalize_text(hyp, language)
    if not h:
        return 1.0
    return float(jiwer.wer(r, h))


def cer(ref: str, hyp: str, language: str = "en") -> float:
    """Character error rate after :func:`normalize_text` (spaces count as characters in
    spaced languages and are removed in no-space ones). An empty hypothesis scores 1."""
    r, h = _reference(ref, language), normalize_text(hyp, language)
    if not h:
        return 1.0
    return float(jiwer.cer(r, h))


def error_rate(ref: str, hyp: str, language: str = "en", metric: str = "auto") -> float:
    """WER or CER by ``metric``: "wer", "cer", or "auto" (CER for no-space languages)."""
    if metric == "auto":
        metric = "cer" if is_no_space_language(language) else "wer"
    if metric == "wer":
        return wer(ref, hyp, language)
    if metric == "cer":
        return cer(ref, hyp, language)
    raise InputError(f"unknown error-rate metric {metric!r}; use 'wer', 'cer' or 'auto'")
