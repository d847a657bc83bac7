"""Logging and progress bars (tqdm), silenced with LLASA_QUIET=1."""

from __future__ import annotations

import logging
import os


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)


def progress(iterable=None, **kwargs):
    from tqdm.auto import tqdm  # here, not at import: tqdm.auto costs ~50 ms of a cold start

    kwargs.setdefault("disable", os.environ.get("LLASA_QUIET") == "1")
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kwargs)
