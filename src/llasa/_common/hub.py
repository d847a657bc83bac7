"""One resolver for model locations: local dir | file://path | hub id (+ revision).

Every ``from_pretrained`` goes through :func:`resolve`. Honours ``HF_HUB_OFFLINE`` via
huggingface_hub, and turns its many failure modes into one clear :class:`ModelLoadError`.
"""

from __future__ import annotations

from pathlib import Path

from .errors import ModelLoadError


def resolve(path_or_id: str | Path, revision: str | None = None,
            allow_patterns: list[str] | None = None) -> Path:
    """Return a local directory (or file) holding the model named by ``path_or_id``."""
    s = str(path_or_id)
    if s.startswith("file://"):
        s = s[len("file://"):]
    p = Path(s).expanduser()
    if p.exists():
        return p
    if s.startswith(("/", "./", "../", "~")) or s.count("/") != 1:
        raise ModelLoadError(f"model path does not exist: {s}")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(s, revision=revision, allow_patterns=allow_patterns))
    except Exception as e:  # noqa: BLE001 - offline, 404, auth: all mean "cannot get it"
        raise ModelLoadError(
            f"cannot fetch '{s}' from the Hugging Face hub ({type(e).__name__}: {e}). "
            "Download it on a connected machine or pass a local directory."
        ) from None
