"""Atomic training checkpoints with exact resume, shared by the codec and LM recipes.

A checkpoint is a directory ``<root>/step_<NNNNNNNN>/`` holding

- ``module-<name>.safetensors`` for each module (``safetensors.torch.save_model``: shared
  tensors such as tied embeddings are handled),
- ``trainer.safetensors`` + ``trainer.json``: optimizer / scheduler / grad-scaler state dicts,
  RNG states (python, numpy, torch CPU and CUDA), the step and a free-form ``state`` dict (e.g.
  the data position). Tensors go to the safetensors file and everything else to JSON, so
  nothing is ever unpickled.

Atomicity: everything is written into a hidden temporary directory, fsynced, then renamed into
place with ``os.replace``; ``<root>/latest`` (the name of the newest complete checkpoint) is
replaced the same way. A process killed at any moment leaves either the old or the new
checkpoint, never a partial one; stale temporary directories are removed on the next save.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, load_model, save_file, save_model

from .._common.errors import ModelLoadError

_STEP_RE = re.compile(r"step_(\d+)")  # fullmatch: "$" would allow a final "\n"
_TRAINER_JSON, _TRAINER_TENSORS, _LATEST = "trainer.json", "trainer.safetensors", "latest"
FORMAT_VERSION = 1


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file + fsync + ``os.replace``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def capture_rng() -> dict:
    """Global RNG states (python, numpy, torch CPU, every CUDA device)."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    """Inverse of :func:`capture_rng`."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class CheckpointManager:
    """Saves and restores training state under ``root``; keeps the newest ``keep_last``.

    Args:
        root: directory holding the ``step_*`` checkpoints (created on first save).
        keep_last: how many complete checkpoints to keep (older ones are deleted after a save).
    """

    def __init__(self, root: str | Path, keep_last: int = 2):
        self.root = Path(root)
        self.keep_last = max(1, int(keep_last))

    def save(self, step: int, *, modules: dict[str, torch.nn.Module],
             optimizers: dict[str, Any] | None = None, schedulers: dict[str, Any] | None = None,
             scalers: dict[str, Any] | None = None, state: dict | None = None) -> Path:
        """Write a checkpoint for ``step`` atomically and return its directory.

        ``optimizers`` / ``schedulers`` / ``scalers`` are objects with ``state_dict()``;
        ``state`` is any nest of dicts, lists, tuples, numbers, strings, tensors and arrays.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        self._remove_stale_tmp()
        final = self.root / f"step_{int(step):08d}"
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root))
        try:
            for name, module in modules.items():
                save_model(module, str(tmp / f"module-{name}.safetensors"))
            payload = {
                "version": FORMAT_VERSION, "step": int(step),
                "modules": sorted(modules),
                "optimizers": {k: v.state_dict() for k, v in (optimizers or {}).items()},
                "schedulers": {k: v.state_dict() for k, v in (schedulers or {}).items()},
                "scalers": {k: v.state_dict() for k, v in (scalers or {}).items()},
                "rng": capture_rng(), "state": state or {},
            }
            tensors: dict[str, torch.Tensor] = {}
            skeleton = _encode(payload, tensors)
            save_file(tensors, str(tmp / _TRAINER_TENSORS))
            (tmp / _TRAINER_JSON).write_text(json.dumps(skeleton))
            for f in tmp.iterdir():
                _fsync_file(f)
            if final.exists():  # re-saving the same step (e.g. after a resume) replaces it
                shutil.rmtree(final)
            os.replace(tmp, final)
            _fsync_dir(self.root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        atomic_write_text(self.root / _LATEST, final.name + "\n")
        self._prune()
        return final

    def checkpoints(self) -> list[Path]:
        """Complete checkpoints, oldest first."""
        if not self.root.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.root.iterdir()
                 if (m := _STEP_RE.fullmatch(p.name)) and (p / _TRAINER_JSON).is_file()]
        return [p for _, p in sorted(found)]

    def latest(self) -> Path | None:
        """The newest complete checkpoint, or ``None``."""
        pointer = self.root / _LATEST
        if pointer.is_file():
            p = self.root / pointer.read_text().strip()
            if (p / _TRAINER_JSON).is_file():
                return p
        ckpts = self.checkpoints()
        return ckpts[-1] if ckpts else None

    def load(self, path: str | Path, *, modules: dict[str, torch.nn.Module],
             optimizers: dict[str, Any] | None = None, schedulers: dict[str, Any] | None = None,
             scalers: dict[str, Any] | None = None, restore_rng_state: bool = True,
             device: str | torch.device = "cpu") -> dict:
        """Restore everything saved by :meth:`save` into the given objects.

        Returns:
            ``{"step": int, "state": dict}``.

        Raises:
            ModelLoadError: missing or unreadable files, or modules that do not match.
        """
        path = Path(path)
        try:
            skeleton = json.loads((path / _TRAINER_JSON).read_text())
            tensors = load_file(str(path / _TRAINER_TENSORS), device=str(device))
        except (OSError, ValueError) as e:
            raise ModelLoadError(f"cannot read checkpoint {path}: {e}") from None
        payload = _decode(skeleton, tensors)
        if payload.get("version") != FORMAT_VERSION:
            raise ModelLoadError(f"checkpoint {path} has format version "
                                 f"{payload.get('version')}, expected {FORMAT_VERSION}")
        missing = sorted(set(modules) - set(payload["modules"]))
        if missing:
            raise ModelLoadError(f"checkpoint {path} has no module(s) {missing}; it holds "
                                 f"{payload['modules']}")
        for name, module in modules.items():
            try:
                load_model(module, str(path / f"module-{name}.safetensors"), strict=True,
                           device=str(device))
            except (OSError, RuntimeError) as e:
                raise ModelLoadError(f"checkpoint {path}: module '{name}' does not match: "
                                     f"{e}") from None
        for kind, objs in (("optimizers", optimizers), ("schedulers", schedulers),
                           ("scalers", scalers)):
            for name, obj in (objs or {}).items():
                if name not in payload[kind]:
                    raise ModelLoadError(f"checkpoint {path} has no {kind[:-1]} '{name}'")
                obj.load_state_dict(payload[kind][name])
        if restore_rng_state:
            restore_rng(payload["rng"])
        return {"step": payload["step"], "state": payload["state"]}

    def _prune(self) -> None:
        for old in self.checkpoints()[:-self.keep_last]:
            shutil.rmtree(old, ignore_errors=True)

    def _remove_stale_tmp(self) -> None:
        for p in self.root.glob(".tmp-*"):
            shutil.rmtree(p, ignore_errors=True)


def _encode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Nest → JSON skeleton; tensors (and numpy arrays) are moved to ``tensors``."""
    if isinstance(obj, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = obj.detach().cpu().contiguous().clone()
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray):
        key = f"t{len(tensors)}"
        # widen unsigned ints (numpy's MT19937 state is uint32), record the dtype to undo it
        arr = obj.astype(np.int64) if obj.dtype.kind == "u" else obj
        tensors[key] = torch.from_numpy(np.ascontiguousarray(arr).copy())
        return {"__ndarray__": key, "dtype": obj.dtype.str}
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _encode(v, tensors) for k, v in obj.items()}
        # optimizer states use int keys: keep the key types exactly
        return {"__items__": [[_encode(k, tensors), _encode(v, tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, tensors) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"checkpoint: cannot store a value of type {type(obj).__name__}")


def _decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__ndarray__" in obj:
            return tensors[obj["__ndarray__"]].numpy().astype(np.dtype(obj["dtype"]))
        if "__tuple__" in obj:
            return tuple(_decode(v, tensors) for v in obj["__tuple__"])
        if "__items__" in obj:
            return {_decode(k, tensors): _decode(v, tensors) for k, v in obj["__items__"]}
        return {k: _decode(v, tensors) for k, v in obj.items()}
    return obj


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
