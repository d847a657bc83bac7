"""Where the model shipped inside the package lives (torch-free, for the CLI)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def default_model_dir() -> Path:
    """``llasa/models/default``, holding ``lm/`` and ``codec/`` when a model is shipped."""
    return Path(str(resources.files("llasa"))) / "models" / "default"
