"""Text frontends: what an LM reads instead of the raw text, declared by the model itself.

The official Llasa checkpoints read raw text (no frontend). A model may instead be trained on
phonemes: its ``config.json`` then names the frontend under :data:`FRONTEND_KEY` (for example
``"espeak:en-us"``), and :class:`~llasa.lm.LlasaLM` applies it to every text it builds a
prompt from (the target text and a cloning prompt's transcript), exactly as training applied it
to the transcripts. Users keep passing plain text; verifiers and evaluation keep comparing
against the plain text.

``espeak:<voice>`` runs the ``espeak-ng`` program (``apt-get install espeak-ng``) and keeps the
clause punctuation, which carries intonation (a question is spoken as one)::

    "I have 42 apples, and three pears?"  ->  "aɪ hæv fˈoːɹɾi tˈuː ˈæpəlz, ænd θɹˈiː pˈɛɹz?"

``normalize:en`` spells written forms as words first (numbers, dates, times, money, units,
abbreviations, symbols, URLs: :mod:`llasa._common.textnorm`, the same normaliser the WER judge
uses); espeak-ng's own readings are poor ("$45" → "dollar forty-five"). Frontends chain with
``+`` and run left to right: ``normalize:en+espeak:en-us``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Sequence

from .._common.errors import InputError, ModelLoadError
from .._common.textnorm import normalize_english

FRONTEND_KEY = "llasa_text_frontend"
# A clause ends at a run of these marks followed by a space or the end (so "3.5" or "e.g."
# stay inside their clause, as espeak-ng reads them).
_CLAUSE = re.compile(r"([,.;:!?]+)(?=\s|$)")
_WORD = re.compile(r"\w")
_CACHE_MAX = 100_000


class EspeakPhonemes:
    """IPA phonemes from ``espeak-ng`` for one espeak voice (e.g. ``en-us``).

    Args:
        voice: espeak-ng voice / language name.
        program: the espeak-ng executable (default: found on ``PATH``).

    Raises:
        ModelLoadError: espeak-ng is not installed, or does not know ``voice``.
    """

    def __init__(self, voice: str = "en-us", program: str | None = None):
        if not voice or not re.fullmatch(r"[A-Za-z0-9_+\-]+", voice):
            raise ModelLoadError(f"bad espeak voice name {voice!r}")
        exe = program or shutil.which("espeak-ng")
        if not exe or not shutil.which(exe):
            raise ModelLoadError(
                "this model reads phonemes made by espeak-ng, which is not installed "
                "(apt-get install espeak-ng)")
        self.voice, self.program = voice, exe
        self.name = f"espeak:{voice}"
        self._cache: dict[str, str] = {}
        probe = self._run(["a."])
        if probe is None or not probe[0]:
            raise ModelLoadError(f"espeak-ng has no voice {voice!r}")

    def __repr__(self) -> str:
        return f"EspeakPhonemes({self.voice!r})"

    def __call__(self, text: str) -> str:
        """Phonemes of one text (clause punctuation kept)."""
        return self.batch([text])[0]

    def batch(self, texts: Sequence[str]) -> list[str]:
        """Phonemes of several texts with one espeak-ng run (cached per text)."""
        if isinstance(texts, str):
            raise InputError("batch takes a list of texts")
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if todo:
            split = [_clauses(t) for t in todo]
            flat = [c for cl in split for c, _ in cl]
            phon = self._clause_phonemes(flat)
            k = 0
            if len(self._cache) + len(todo) > _CACHE_MAX:
                self._cache.clear()
            for t, cl in zip(todo, split):
                parts = []
                for (_, punct), p in zip(cl, phon[k:k + len(cl)]):
                    if p:
                        parts.append(p + punct)
                    elif parts and punct:  # a clause of no words: keep its mark on the last
                        parts[-1] += punct
                k += len(cl)
                self._cache[t] = " ".join(parts)
        return [self._cache[t] for t in texts]

    # ---- espeak-ng --------------------------------------------------------------------------
    def _clause_phonemes(self, clauses: list[str]) -> list[str]:
        """One phoneme string per clause; clauses without a word give ""."""
        spoken = [i for i, c in enumerate(clauses) if _WORD.search(c)]
        out = [""] * len(clauses)
        if not spoken:
            return out
        # Each line ends in a full stop so espeak-ng ends a clause there; it prints one line
        # per clause. If its clause split differs anyway, fall back to one run per clause.
        lines = self._run([clauses[i] + "." for i in spoken])
        if lines is None or len(lines) != len(spoken):
            lines = []
            for i in spoken:
                got = self._run([clauses[i] + "."]) or []
                lines.append(" ".join(x for x in got if x))
        for i, line in zip(spoken, lines):
            out[i] = line
        return out

    def _run(self, lines: list[str]) -> list[str] | None:
        text = "\n".join(" ".join(line.split()) for line in lines) + "\n"
        try:
            r = subprocess.run([self.program, "-q", "--ipa", "-v", self.voice, "--stdin"],
                               input=text.encode(), capture_output=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise ModelLoadError(f"espeak-ng failed: {e}") from None
        if r.returncode != 0:
            return None
        return [" ".join(x.split()) for x in r.stdout.decode("utf-8", "replace").splitlines()]


def _clauses(text: str) -> list[tuple[str, str]]:
    """``text`` → [(clause words, its closing marks)]; a trailing clause may have no mark."""
    out, pos = [], 0
    for m in _CLAUSE.finditer(text):
        out.append((text[pos:m.start()].strip(), m.group(1)))
        pos = m.end()
    rest = text[pos:].strip()
    if rest:
        out.append((rest, ""))
    return out


class EnglishNormalizer:
    """Written English → spoken words (``normalize:en``; see :mod:`llasa._common.textnorm`)."""

    name = "normalize:en"

    def __repr__(self) -> str:
        return "EnglishNormalizer()"

    def __call__(self, text: str) -> str:
        return normalize_english(text)

    def batch(self, texts: Sequence[str]) -> list[str]:
        if isinstance(texts, str):
            raise InputError("batch takes a list of texts")
        return [normalize_english(t) for t in texts]


class FrontendChain:
    """Frontends applied in order (``a+b``: ``b(a(text))``)."""

    def __init__(self, parts: Sequence):
        self.parts = list(parts)
        self.name = "+".join(p.name for p in self.parts)

    def __repr__(self) -> str:
        return f"FrontendChain({self.parts!r})"

    def __call__(self, text: str) -> str:
        return self.batch([text])[0]

    def batch(self, texts: Sequence[str]) -> list[str]:
        if isinstance(texts, str):
            raise InputError("batch takes a list of texts")
        out = list(texts)
        for p in self.parts:
            out = p.batch(out)
        return out


def declare_frontend(config, spec: str | None) -> None:
    """Write ``spec`` into a model config as its frontend, or remove the key for raw text."""
    if spec and spec != "none":
        setattr(config, FRONTEND_KEY, spec)
    elif hasattr(config, FRONTEND_KEY):
        delattr(config, FRONTEND_KEY)


def get_frontend(spec: str | None, program: str | None = None):
    """The frontend a model declares: None / "" / "none" → none (raw text), ``espeak:VOICE``,
    ``normalize:en``, or several joined by ``+`` (applied left to right).

    Raises:
        ModelLoadError: an unknown frontend, or espeak-ng missing for an espeak one.
    """
    if spec is None or spec in ("", "none"):
        return None
    if not isinstance(spec, str):
        raise ModelLoadError(f"text frontend must be a string, got {spec!r}")
    if "+" in spec:
        return FrontendChain([_one_frontend(p, program) for p in spec.split("+")])
    return _one_frontend(spec, program)


def _one_frontend(spec: str, program: str | None):
    kind, _, arg = spec.strip().partition(":")
    if kind == "espeak":
        return EspeakPhonemes(arg or "en-us", program=program)
    if kind == "normalize" and arg in ("", "en"):
        return EnglishNormalizer()
    raise ModelLoadError(f"unknown text frontend {spec!r} (known: 'espeak:VOICE', "
                         "'normalize:en', several joined by '+', 'none')")


def apply_frontend(frontend, text: str) -> str:
    """``text`` as a model with ``frontend`` reads it: through it (trailing space kept), or as
    is when there is none. Used by the ONNX engine (the rule of ``LlasaLM.prepare_text``).

    Raises:
        InputError: text with nothing the frontend can speak (e.g. only punctuation).
    """
    if frontend is None or not isinstance(text, str) or not text.strip():
        return text
    out = frontend(text)
    if not out.strip():
        raise InputError(f"nothing to speak in {text!r}")
    return out + (" " if text[-1].isspace() else "")
