"""Manifests: the list of (audio, text, speaker) a corpus or a data-preparation run works on.

Three inputs are accepted, all giving the same :class:`ManifestEntry` list:

* JSONL: one object per line with ``audio`` (or ``path``/``audio_path``/``file``), ``text``
  (or ``transcript``/``sentence``) and optionally ``speaker`` and ``split``; any other keys
  are kept in ``extra``.
* CSV with a header row using the same column names.
* A folder of audio files (``.wav .flac .ogg``, searched recursively), each with a sidecar
  transcript of the same stem (``.txt`` or ``.lab``). The speaker is the name of the
  sub-folder, when the file is not directly in the root.

Relative audio paths are resolved against the manifest's folder, so a corpus folder can be moved
as a whole.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..._common.errors import InputError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")
_AUDIO_KEYS = ("audio", "path", "audio_path", "file", "wav")
_TEXT_KEYS = ("text", "transcript", "sentence", "normalized_text")
_SPEAKER_KEYS = ("speaker", "speaker_id", "spk")


@dataclass
class ManifestEntry:
    """One utterance: an absolute audio path, its transcript and optional speaker / split."""

    audio: str
    text: str
    speaker: str | None = None
    split: str | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self, root: Path | None = None) -> dict:
        """JSON-ready dict; the audio path is written relative to ``root`` when inside it."""
        audio = self.audio
        if root is not None:
            try:
                audio = os.path.relpath(self.audio, root)
            except ValueError:  # other drive on Windows
                pass
            if audio.startswith(".."):
                audio = self.audio
        d = {"audio": audio, "text": self.text}
        if self.speaker is not None:
            d["speaker"] = self.speaker
        if self.split is not None:
            d["split"] = self.split
        d.update(self.extra)
        return d


def _pick(row: dict, keys: tuple[str, ...]):
    for k in keys:
        if k in row and row[k] not in (None, ""):
            return k, row[k]
    return None, None


def _entry(row: dict, base: Path, where: str) -> ManifestEntry:
    ka, audio = _pick(row, _AUDIO_KEYS)
    kt, text = _pick(row, _TEXT_KEYS)
    if audio is None:
        raise InputError(f"{where}: no audio path (expected one of the keys {list(_AUDIO_KEYS)})")
    if text is None:
        raise InputError(f"{where}: no transcript (expected one of the keys {list(_TEXT_KEYS)})")
    ks, speaker = _pick(row, _SPEAKER_KEYS)
    p = Path(str(audio)).expanduser()
    if not p.is_absolute():
        p = base / p
    used = {ka, kt, ks, "split"}
    extra = {k: v for k, v in row.items() if k not in used}
    return ManifestEntry(audio=str(p), text=str(text).strip(),
                         speaker=None if speaker is None else str(speaker),
                         split=row.get("split") or None, extra=extra)


def read_manifest(source: str | Path) -> list[ManifestEntry]:
    """Read a JSONL / CSV manifest or a folder of audio + sidecar transcripts.

    Raises:
        InputError: the source is missing, empty, or a row lacks the audio path or text.
    """
    src = Path(source).expanduser()
    if not src.exists():
        raise InputError(f"manifest not found: {src}")
    try:
        if src.is_dir():
            entries = _read_folder(src)
        elif src.suffix.lower() == ".csv":
            entries = _read_csv(src)
        else:
            entries = _read_jsonl(src)
    except UnicodeDecodeError as e:  # the failing file is named by _read_text / the reader
        raise InputError(f"{getattr(e, 'llasa_path', src)}: not UTF-8 text ({e.reason}); "
                         "save it as UTF-8") from None
    if not entries:
        raise InputError(f"{src}: no utterances found")
    return entries


def _read_jsonl(path: Path) -> list[ManifestEntry]:
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"{path}:{n}: not valid JSON ({e.msg}); a manifest holds one "
                                 "JSON object per line, or use a .csv file") from None
            if not isinstance(row, dict):
                raise InputError(f"{path}:{n}: expected a JSON object per line")
            out.append(_entry(row, path.parent.resolve(), f"{path}:{n}"))
    return out


def _read_csv(path: Path) -> list[ManifestEntry]:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames:
            raise InputError(f"{path}: the CSV file has no header row")
        return [_entry(row, path.parent.resolve(), f"{path}:{n}") for n, row in enumerate(reader, 2)]


def _read_folder(root: Path) -> list[ManifestEntry]:
    out = []
    root = root.resolve()
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() not in AUDIO_EXTENSIONS or not p.is_file():
            continue
        side = next((p.with_suffix(s) for s in (".txt", ".lab") if p.with_suffix(s).is_file()),
                    None)
        if side is None:
            continue  # audio without transcript: not usable for TTS training
        try:
            text = side.read_text(encoding="utf-8").strip()
        except UnicodeDecodeError as e:
            e.llasa_path = side  # name the transcript, not the folder
            raise
        speaker = p.parent.name if p.parent != root else None
        out.append(ManifestEntry(audio=str(p), text=text, speaker=speaker))
    return out


def write_manifest(path: str | Path, entries: list[ManifestEntry]) -> Path:
    """Write entries as JSONL (audio paths relative to the file's folder), atomically."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        for e in entries:
            f.write(json.dumps(e.to_json(p.parent.resolve()), ensure_ascii=False) + "\n")
    os.replace(tmp, p)
    return p
