"""Text normalisation and error rates (WER / CER) shared by the ASR verifier and evaluation.

Normalisation (applied to reference *and* hypothesis the same way, so only wording counts):

1. Unicode NFKC, lower case.
2. English only: numbers become words with :func:`number_to_words` ("21" → "twenty one",
   "3.5" → "three point five", "1,000" → "one thousand", "2nd" → "second", "5%" → "five
   percent"), so "21" and "twenty-one" match whatever form the ASR prints.
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

#: Languages scored by characters (their text has no spaces between words).
NO_SPACE_LANGUAGES = frozenset({"zh", "cmn", "yue", "ja", "th", "lo", "my", "km", "bo"})

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_IRREGULAR = {"one": "first", "two": "second", "three": "third", "five": "fifth",
                      "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}
# 1,234,567 | 3.14 | 42 ; optional ordinal suffix or percent sign.
_NUMBER_RE = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(st|nd|rd|th)?(%)?(?!\w)")
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


def _spell_number(m: re.Match) -> str:
    integer, fraction, suffix, percent = m.groups()
    words = number_to_words(int(integer.replace(",", "")), ordinal=bool(suffix) and not fraction)
    if fraction:
        words += " point " + " ".join(_ONES[int(d)] for d in fraction[1:])
    if percent:
        words += " percent"
    return f" {words} "


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
    s = unicodedata.normalize("NFKC", text).lower()
    if language.lower().startswith("en"):
        s = _NUMBER_RE.sub(_spell_number, s)
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
