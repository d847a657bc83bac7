"""Checks on output paths, run before any work so that a bad ``-o`` never loses a result.

Writing to a directory, or below a file, fails late and as an ``OSError`` traceback; these
checks fail first and as :class:`~llasa._common.errors.InputError`. Nothing is created.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError


def _check_ancestors(p: Path, what: str) -> None:
    """The nearest existing ancestor of ``p`` must be a writable directory."""
    parent = p.parent
    while not parent.exists():
        if parent == parent.parent:
            return
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"cannot write {what} {p}: {parent} is a file, not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot write {what} {p}: directory {parent} is not writable")


def check_output_file(path, what: str = "output") -> Path:
    """Raise InputError unless a file could be written at ``path``; returns it as a Path."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{what} {p} is a directory; give a file name (e.g. {p / 'out.wav'})")
    if p.exists() and not os.access(p, os.W_OK):
        raise InputError(f"cannot write {what} {p}: the file is not writable")
    _check_ancestors(p, what)
    return p


def check_output_dir(path, what: str = "output directory") -> Path:
    """Raise InputError unless ``path`` is, or could be made, a writable directory."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError(f"{what} {p} is a file, not a directory")
    if p.is_dir():
        if not os.access(p, os.W_OK | os.X_OK):
            raise InputError(f"{what} {p} is not writable")
        return p
    _check_ancestors(p, what)
    return p
