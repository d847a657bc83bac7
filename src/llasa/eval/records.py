"""Per-utterance results as an append-only JSONL file that survives interruption.

Each finished utterance is one JSON line, flushed and fsync'ed before the next starts, so a run
killed at any moment loses at most the utterance in flight. Reopening the file skips the ids it
already holds; a torn last line (killed mid-write) is dropped and redone.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from .._common.errors import InputError
from .._common.log import get_logger

_log = get_logger(__name__)


def _clean(value: Any) -> Any:
    """JSON has no NaN: store missing metrics as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _clean(value.item())
    return value


class ResultLog:
    """Resumable per-utterance JSONL log keyed by ``record["utt"]``.

    Args:
        path: the ``.jsonl`` file (created with its folder when missing).
        key: the field that identifies a record.
    """

    def __init__(self, path: str | Path, key: str = "utt"):
        self.path = Path(path)
        self.key = key
        self._records: dict[str, dict] = {}
        if self.path.exists():
            self._load()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def _load(self) -> None:
        raw = self.path.read_bytes()
        complete, _, torn = raw.rpartition(b"\n")
        if torn:
            # Every record is written with its newline in one call, so text after the last
            # newline is a line torn by an interruption: cut it off and redo that utterance.
            _log.warning("dropping an incomplete last line of %s", self.path)
            with open(self.path, "r+b") as f:
                f.truncate(len(complete) + 1 if complete else 0)
        for i, line in enumerate(complete.split(b"\n") if complete else []):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                raise InputError(f"{self.path}, line {i + 1}: corrupt results line; delete the "
                                 "file to start over") from None
            if not isinstance(rec, dict) or self.key not in rec:
                raise InputError(f"{self.path}, line {i + 1}: a results line without "
                                 f"'{self.key}'")
            self._records[str(rec[self.key])] = rec

    def __contains__(self, key: str) -> bool:
        return key in self._records

    def __len__(self) -> int:
        return len(self._records)

    @property
    def done(self) -> set[str]:
        """Ids already recorded."""
        return set(self._records)

    def records(self) -> list[dict]:
        """All records, in the order they were written."""
        return list(self._records.values())

    def append(self, record: dict) -> None:
        """Write one record durably. Re-adding an existing id is an error (it would double count)."""
        if self.key not in record:
            raise InputError(f"result record needs a '{self.key}' field")
        k = str(record[self.key])
        if k in self._records:
            raise InputError(f"result for {k!r} is already in {self.path}")
        rec = _clean(record)
        line = json.dumps(rec, ensure_ascii=False, allow_nan=False)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        self._records[k] = rec
