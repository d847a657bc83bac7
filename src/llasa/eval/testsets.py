"""Evaluation lists: the Seed-TTS-eval ``.lst`` format and a plain JSONL form.

Seed-TTS-eval lines are ``utt|prompt_text|prompt_wav|target_text`` with an optional fifth field,
the ground-truth target audio (its zh/hard lists carry it). Paths are relative to the list file.
The JSONL form holds one object per line with the same fields by name (``utt``, ``target_text``,
``prompt_text``, ``prompt_wav``, ``reference_wav``, ``language``). Every malformed line raises an
:class:`InputError` naming the file and the line number.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from .._common.errors import InputError

LANGUAGES = ("en", "zh")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_JSONL_KEYS = {"utt", "target_text", "prompt_text", "prompt_wav", "reference_wav", "language"}
# utt ids become file names: keep them to a safe character set.
_UTT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")  # fullmatch: "$" allows a final "\n"


@dataclass(frozen=True)
class EvalItem:
    """One line of an evaluation list.

    Attributes:
        utt: unique id, also the output file stem (``<utt>.wav``).
        target_text: text to synthesise (and the ASR reference).
        prompt_text: transcript of the voice prompt (None for plain TTS).
        prompt_wav: absolute path of the voice prompt (None for plain TTS).
        language: "en" (scored by WER) or "zh" (scored by CER).
        reference_wav: ground-truth recording of ``target_text`` when the list has one.
    """

    utt: str
    target_text: str
    prompt_text: str | None = None
    prompt_wav: Path | None = None
    language: str = "en"
    reference_wav: Path | None = None

    def __post_init__(self):
        if not _UTT_RE.fullmatch(self.utt or ""):
            raise InputError(f"bad utterance id {self.utt!r}: use letters, digits, '_', '-', '.'")
        if not self.target_text.strip():
            raise InputError(f"utterance {self.utt}: target text is empty")
        if (self.prompt_text is None) != (self.prompt_wav is None):
            raise InputError(f"utterance {self.utt}: give both prompt text and prompt audio, "
                             "or neither")
        if self.language not in LANGUAGES:
            raise InputError(f"utterance {self.utt}: language {self.language!r} is not one of "
                             f"{LANGUAGES}")

    @property
    def metric(self) -> str:
        """The intelligibility metric for this language: "wer" (en) or "cer" (zh)."""
        return "cer" if self.language == "zh" else "wer"


def guess_language(text: str) -> str:
    """"zh" when the text holds CJK ideographs, else "en" (Seed-TTS-eval has no language field)."""
    return "zh" if _CJK.search(text) else "en"


def _where(path: Path, lineno: int) -> str:
    return f"{path}, line {lineno}"


def _audio_path(base: Path, value: str, what: str, where: str, check: bool) -> Path:
    p = Path(value.strip())
    p = p if p.is_absolute() else (base / p)
    if check and not p.is_file():
        raise InputError(f"{where}: {what} file not found: {p}")
    return p.resolve() if p.exists() else p


def _make(where: str, **kw) -> EvalItem:
    try:
        return EvalItem(**kw)
    except InputError as e:
        raise InputError(f"{where}: {e}") from None


def _lines(path: Path):
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text ({e})") from None
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            yield lineno, line.rstrip("\r\n")


def parse_seedtts_list(path: str | Path, *, language: str | None = None,
                       check_files: bool = True) -> list[EvalItem]:
    """Parse a Seed-TTS-eval list (``utt|prompt_text|prompt_wav|target_text[|target_wav]``).

    Args:
        path: the ``.lst`` file; audio paths inside are relative to its folder.
        language: force "en"/"zh" for every line; None guesses per line from the target text.
        check_files: fail on audio paths that do not exist.

    Returns:
        the items in file order. Raises InputError naming the line on any malformed line.
    """
    path = Path(path)
    items, linenos = [], []
    for lineno, line in _lines(path):
        where = _where(path, lineno)
        linenos.append(lineno)
        fields = line.split("|")
        if len(fields) not in (4, 5):
            raise InputError(f"{where}: expected 4 fields 'utt|prompt_text|prompt_wav|"
                             f"target_text' (or 5 with the target audio), got {len(fields)}: "
                             f"{line[:80]!r}")
        utt, ptext, pwav, ttext = (f.strip() for f in fields[:4])
        if not utt:
            raise InputError(f"{where}: the utterance id (field 1) is empty")
        if not pwav:
            raise InputError(f"{where}: the prompt audio path (field 3) is empty")
        if not ttext:
            raise InputError(f"{where}: the target text (field 4) is empty")
        ref = None
        if len(fields) == 5 and fields[4].strip():
            ref = _audio_path(path.parent, fields[4], "target audio", where, check_files)
        items.append(_make(
            where, utt=utt, target_text=ttext, prompt_text=ptext,
            prompt_wav=_audio_path(path.parent, pwav, "prompt audio", where, check_files),
            language=language or guess_language(ttext), reference_wav=ref))
    return _finish(path, items, linenos)


def parse_jsonl_list(path: str | Path, *, language: str | None = None,
                     check_files: bool = True) -> list[EvalItem]:
    """Parse the JSONL form: one object per line with ``utt`` and ``target_text`` required.

    Optional keys: ``prompt_text`` + ``prompt_wav`` (together), ``reference_wav``, ``language``.
    Unknown keys are an error (a typo would silently drop a field otherwise).
    """
    path = Path(path)
    items, linenos = [], []
    for lineno, line in _lines(path):
        where = _where(path, lineno)
        linenos.append(lineno)
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{where}: not valid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(obj, dict):
            raise InputError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        unknown = sorted(set(obj) - _JSONL_KEYS)
        if unknown:
            raise InputError(f"{where}: unknown key(s) {unknown}; known: {sorted(_JSONL_KEYS)}")
        for key in ("utt", "target_text"):
            if not isinstance(obj.get(key), str) or not obj[key].strip():
                raise InputError(f"{where}: '{key}' is missing or not a non-empty string")
        for key in ("prompt_text", "prompt_wav", "reference_wav", "language"):
            if key in obj and obj[key] is not None and not isinstance(obj[key], str):
                raise InputError(f"{where}: '{key}' must be a string")
        pwav = obj.get("prompt_wav")
        ref = obj.get("reference_wav")
        items.append(_make(
            where, utt=obj["utt"].strip(), target_text=obj["target_text"].strip(),
            prompt_text=obj.get("prompt_text"),
            prompt_wav=_audio_path(path.parent, pwav, "prompt audio", where, check_files)
            if pwav else None,
            reference_wav=_audio_path(path.parent, ref, "target audio", where, check_files)
            if ref else None,
            language=language or obj.get("language") or guess_language(obj["target_text"])))
    return _finish(path, items, linenos)


def _finish(path: Path, items: list[EvalItem], linenos: list[int]) -> list[EvalItem]:
    if not items:
        raise InputError(f"{path}: the list has no utterances")
    seen: dict[str, int] = {}
    for lineno, it in zip(linenos, items):
        if it.utt in seen:
            raise InputError(f"{_where(path, lineno)}: utterance id {it.utt!r} already used on "
                             f"line {seen[it.utt]}")
        seen[it.utt] = lineno
    return items


def load_list(path: str | Path, *, language: str | None = None,
              check_files: bool = True) -> list[EvalItem]:
    """Load an evaluation list by extension: ``.jsonl`` → JSONL form, anything else → Seed-TTS."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"evaluation list not found: {p}")
    if language is not None and language not in LANGUAGES:
        raise InputError(f"language {language!r} is not one of {LANGUAGES}")
    if p.suffix.lower() == ".jsonl":
        return parse_jsonl_list(p, language=language, check_files=check_files)
    return parse_seedtts_list(p, language=language, check_files=check_files)
