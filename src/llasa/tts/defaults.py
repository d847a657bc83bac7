"""Where the model shipped inside the package lives (torch-free, for the CLI)."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path


def default_model_dir() -> Path:
    """Where the model used when none is named lives: ``$LLASA_DEFAULT_MODEL_DIR`` if set
    (a folder with ``lm/`` and ``codec/``), else ``llasa/models/default`` in the package."""
    override = os.environ.get("LLASA_DEFAULT_MODEL_DIR")
    if override:
        return Path(override).expanduser()
    return Path(str(resources.files("llasa"))) / "models" / "default"
