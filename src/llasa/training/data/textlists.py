"""Sentence lists of ordinary English from offline Debian text packages and our grammar.

Sources (each a Debian package read from its installed files; ``apt-get install`` names them):

========================  ===========================  ==================================
source                    package (files)              licence
========================  ===========================  ==================================
``wordnet``               wordnet-base (example        WordNet 3.0 licence (permissive,
                          sentences of the glosses)    keep Princeton's notice)
``fortunes``              fortunes, fortunes-min       BSD (fortune-mod); quotations of
                                                       mixed authorship
``fortunes-heldout``      the same, other files        same
``gcide``                 dict-gcide (quotations)      GPL-2.0-or-later
``grammar``               llasa's phrase grammar       Apache-2.0 (this project)
``numbers``               llasa's number frames        Apache-2.0 (this project)
                          (:mod:`.numbers`)
========================  ===========================  ==================================

Each list is cleaned (Unicode, quotes, attributions, markup), filtered for speakability
(3-30 words, 10-200 characters, plain letters and punctuation only, no verse or dialogue
layout), deduplicated across all sources (by lower-case letters), and split: a source marked
held out goes wholly to ``heldout`` (evaluation on a text source never trained on); the others
send a hash-chosen share there (:func:`llasa.training.data.sentences.is_heldout`), so a
sentence never changes split when a list grows.
"""

from __future__ import annotations

import gzip
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..._common.errors import InputError
from ...tts.text import normalize_text, split_sentences
from ..._common.textnorm import normalize_english
from .numbers import number_sentences
from .sentences import is_heldout

WORDNET_DIR = Path("/usr/share/wordnet")
FORTUNE_DIR = Path("/usr/share/games/fortunes")
GCIDE_FILE = Path("/usr/share/dictd/gcide.dict.dz")
# Prose-like fortune files; the held-out source uses other files, so its text is never trained on.
FORTUNE_TRAIN = (
    "fortunes",
    "food",
    "love",
    "education",
    "science",
    "work",
    "pets",
    "kids",
    "sports",
    "miscellaneous",
    "platitudes",
    "humorists",
    "computers",
)
FORTUNE_HELDOUT = ("wisdom", "people", "literature")


@dataclass(frozen=True)
class Source:
    """One sentence source: where it comes from and under which licence."""

    name: str
    package: str
    licence: str
    description: str
    heldout: bool = False
    files: tuple = field(default_factory=tuple)
    cap: int | None = None  # keep at most this many (a seeded subset)


SOURCES = {
    "wordnet": Source(
        "wordnet",
        "wordnet-base",
        "WordNet-3.0 (permissive; keep the notice: "
        "WordNet 3.0 Copyright 2006 by Princeton University)",
        "example sentences quoted in WordNet 3.0 glosses",
        files=tuple(str(WORDNET_DIR / f"data.{p}") for p in ("noun", "verb", "adj", "adv")),
    ),
    "fortunes": Source(
        "fortunes",
        "fortunes fortunes-min",
        "BSD-3-Clause (fortune-mod); quotations of mixed authorship",
        "sentences of fortune cookies",
        files=tuple(str(FORTUNE_DIR / f) for f in FORTUNE_TRAIN),
    ),
    "fortunes-heldout": Source(
        "fortunes-heldout",
        "fortunes fortunes-min",
        "BSD-3-Clause (fortune-mod); quotations of mixed authorship",
        "sentences of other fortune files, held out of training",
        heldout=True,
        files=tuple(str(FORTUNE_DIR / f) for f in FORTUNE_HELDOUT),
    ),
    "gcide": Source(
        "gcide",
        "dict-gcide",
        "GPL-2.0-or-later (GCIDE)",
        "quotations illustrating GCIDE dictionary entries (much of it 19th-century "
        "prose and verse)",
        files=(str(GCIDE_FILE),),
        cap=8000,
    ),
    "grammar": Source(
        "grammar",
        "llasa",
        "Apache-2.0",
        "llasa's phrase grammar (llasa data sentences --style open)",
    ),
    "numbers": Source(
        "numbers",
        "llasa",
        "Apache-2.0",
        "llasa's sentences with written numbers, dates, times, money, units "
        "(llasa.training.data.numbers)",
    ),
}

_OK_CHARS = re.compile(r"^[A-Za-z0-9 ,.;:!?'\"$%&()-]+$")
_WORDNET_EX = re.compile(r'"([^"]{8,})"')
_ATTRIBUTION = re.compile(r"\s--\s?[A-Z][^.]*\.?\s*$|\s+--\s.*$", re.S)


def clean(text: str) -> str:
    """Unicode and quote clean-up; quotes and brackets that hold no words go."""
    s = strip_accents(normalize_text(text))
    s = s.replace("``", '"').replace("''", '"').replace("`", "'")
    s = re.sub(r'"', "", s)  # quotation marks are not spoken
    s = re.sub(r"\s*\([^)]*\)", "", s) if s.count("(") == s.count(")") else s
    s = re.sub(r"\s+([,.;:!?])", r"\1", s)
    s = " ".join(s.split()).strip(" -;:,")
    if s and s[0].islower():
        s = s[0].upper() + s[1:]
    if s and s[-1] not in ".!?":
        s += "."
    return s


def speakable(s: str, min_words: int = 3, max_words: int = 30) -> bool:
    """Plain prose a reader can say in one breath group or a few: see the module docstring."""
    n = len(s.split())
    if not (min_words <= n <= max_words and 10 <= len(s) <= 200):
        return False
    if not _OK_CHARS.match(s) or "--" in s or "..." in s or "(" in s or ")" in s:
        return False
    if re.search(r"\b[A-Z]{5,}\b", s) or re.search(r"[a-z][A-Z]|(?<!')\b[b-hj-z]\b(?!')", s):
        return False  # shouting, camelCase, stray single letters (code, variables)
    return sum(c.isalnum() for c in s) >= 0.7 * len(s)


def _key(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower())


def wordnet_sentences(files=SOURCES["wordnet"].files) -> list[str]:
    """Quoted example sentences of WordNet glosses (after the ``|``)."""
    out = []
    for f in files:
        for line in Path(f).read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("  ") or "|" not in line:
                continue  # the licence header
            out += _WORDNET_EX.findall(line.split("|", 1)[1])
    return out


def fortune_sentences(files) -> list[str]:
    """Sentences of the fortunes in ``files`` (prose fortunes only; attributions dropped)."""
    out = []
    for f in files:
        text = Path(f).read_text(encoding="utf-8", errors="replace")
        for fortune in re.split(r"\n%\n", text):
            lines = fortune.strip("\n").splitlines()
            # verse, dialogue, lists and code keep their layout: leave them out
            body = [ln for ln in lines if not re.match(r"^\s+--", ln)]
            if not body or any(re.match(r"^\s*(\w+:|\(?\d+[.)]|[-*>])\s", ln) for ln in body):
                continue
            if sum(ln.startswith(("\t", "   ")) for ln in body) > 0:
                continue
            out += split_sentences(_ATTRIBUTION.sub("", " ".join(body)))
    return out


def gcide_sentences(path=GCIDE_FILE) -> list[str]:
    """Quotations of GCIDE entries: indented blocks that end in ``--Author``."""
    out = []
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
        block: list[str] = []
        for line in fh:
            if line.startswith("            ") and line.strip():
                block.append(line.strip())
                continue
            if block:
                text = " ".join(block)
                m = re.search(r"\s--\s?[A-Z][\w .,']*\.?$", text)
                if m and "[" not in text[: m.start()]:
                    out += split_sentences(text[: m.start()])
                block = []
    return out


def grammar_sentences(count: int, seed: int = 0) -> list[str]:
    """``count`` distinct sentences of llasa's open grammar (both of its splits)."""
    from .sentences import generate_sentences

    split = generate_sentences(count, seed=seed, style="open")
    return split.train + split.heldout


def build_lists(
    sources=tuple(SOURCES),
    *,
    max_per_source: int = 20000,
    grammar_count: int = 5000,
    numbers_count: int = 3000,
    heldout_fraction: float = 0.05,
    seed: int = 0,
) -> dict[str, dict[str, list[str]]]:
    """Cleaned, speakable, deduplicated lists: ``{source: {"train": [...], "heldout": [...]}}``.

    Sentences are deduplicated across sources in the order given (the first source keeps a
    sentence). A source with more than ``max_per_source`` sentences keeps a seeded random
    subset (so committed lists stay small).

    Raises:
        InputError: an unknown source, or a Debian package that is not installed.
    """
    seen: set[str] = set()
    out: dict[str, dict[str, list[str]]] = {}
    rng = np.random.default_rng(seed)
    for name in sources:
        if name not in SOURCES:
            raise InputError(f"unknown text source {name!r} (known: {', '.join(SOURCES)})")
        src = SOURCES[name]
        missing = [f for f in src.files if not Path(f).exists()]
        if missing:
            raise InputError(
                f"text source {name!r} needs {missing[0]} (apt-get install {src.package})"
            )
        raw = {
            "wordnet": lambda: wordnet_sentences(src.files),
            "fortunes": lambda: fortune_sentences(src.files),
            "fortunes-heldout": lambda: fortune_sentences(src.files),
            "gcide": lambda: gcide_sentences(src.files[0]),
            "grammar": lambda: grammar_sentences(grammar_count, seed),
            "numbers": lambda: number_sentences(numbers_count, seed),
        }[name]()
        kept = []
        for s in raw:
            s = clean(s)
            k = _key(s)
            # written forms are judged as they are spoken ("tina@example.com", "4 °C")
            ok = speakable(normalize_english(s) if name == "numbers" else s)
            if ok and k not in seen:
                seen.add(k)
                kept.append(s)
        cap = min(max_per_source, src.cap or max_per_source)
        if len(kept) > cap:
            idx = np.sort(rng.choice(len(kept), cap, replace=False))
            kept = [kept[i] for i in idx]
        held = [s for s in kept if src.heldout or is_heldout(s, heldout_fraction)]
        held_set = set(held)
        out[name] = {"train": [s for s in kept if s not in held_set], "heldout": held}
    return out


def write_lists(lists: dict, out_dir) -> dict:
    """Write ``<source>.train.txt`` / ``<source>.heldout.txt`` and ``sources.json``
    (package, licence, counts); returns the ``sources.json`` content."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = {}
    for name, split in lists.items():
        src = SOURCES[name]
        for part, sents in split.items():
            (out / f"{name}.{part}.txt").write_text(
                "".join(s + "\n" for s in sents), encoding="utf-8"
            )
        meta[name] = {
            "package": src.package,
            "licence": src.licence,
            "description": src.description,
            "heldout_source": src.heldout,
            "train": len(split["train"]),
            "heldout": len(split["heldout"]),
        }
    (out / "sources.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return meta


def read_lists(directory, split: str, sources=None) -> list[tuple[str, str]]:
    """``[(sentence, source)]`` of one split (``train`` / ``heldout``) from a written folder."""
    if split not in ("train", "heldout"):
        raise InputError(f"split must be 'train' or 'heldout', got {split!r}")
    d = Path(directory)
    meta = json.loads((d / "sources.json").read_text(encoding="utf-8"))
    names = list(meta) if sources is None else list(sources)
    out = []
    for name in names:
        if name not in meta:
            raise InputError(f"{d} has no text source {name!r} (has: {', '.join(meta)})")
        lines = (d / f"{name}.{split}.txt").read_text(encoding="utf-8").splitlines()
        out += [(ln, name) for ln in lines if ln.strip()]
    return out


def strip_accents(s: str) -> str:
    """ "café" → "cafe"."""
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))
