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
            f"cannot fetch '{s}' from the Hugging Face hub ({type(e).__name__}: "
            f"{' '.join(str(e).split())}). "  # hub messages span lines: the CLI prints one
            "Download it on a connected machine or pass a local directory."
        ) from None


def weights_fingerprint(path_or_id: str | Path | None, default: Path | None = None) -> str:
    """A short id of a model's weights, cheap even for multi-GB files: for a local folder, the
    size plus three 1 MiB samples (start, middle, end) of every weight file; for a hub id, the
    id itself. ``None`` stands for ``default`` (e.g. the shipped model's folder)."""
    import hashlib

    target = default if path_or_id is None else path_or_id
    if target is None or not Path(target).is_dir():
        return f"id:{target}"
    h = hashlib.sha1()
    files = sorted(p for p in Path(target).rglob("*")
                   if p.suffix in (".safetensors", ".bin", ".pt", ".ckpt") and p.is_file())
    for f in files:
        size = f.stat().st_size
        h.update(f"{f.relative_to(target)}:{size}".encode())
        with open(f, "rb") as fh:
            for at in sorted({0, max(0, size // 2 - 2**19), max(0, size - 2**20)}):
                fh.seek(at)
                h.update(fh.read(2**20))
    return h.hexdigest()[:16]
