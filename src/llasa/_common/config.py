"""Dataclass helpers: strict dict/JSON/YAML round-trips that reject unknown keys."""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path
from typing import Any, TypeVar

from .errors import InputError

T = TypeVar("T")


def to_dict(obj: Any) -> dict:
    """Dataclass → plain dict (nested dataclasses included)."""
    return dataclasses.asdict(obj)


def from_dict(cls: type[T], data: dict | None) -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys are an error naming them."""
    data = dict(data or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise InputError(f"{cls.__name__}: unknown setting(s) {unknown}; known: {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in data.items():
        sub = hints.get(name)
        if dataclasses.is_dataclass(sub) and isinstance(value, dict):
            value = from_dict(sub, value)
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise InputError(f"{cls.__name__}: {e}") from None


def replace(obj: T, **changes: Any) -> T:
    """``dataclasses.replace`` that rejects unknown keys with an InputError."""
    return from_dict(type(obj), {**to_dict_shallow(obj), **changes})


def to_dict_shallow(obj: Any) -> dict:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def load_file(path: str | Path) -> dict:
    """Read a JSON or YAML override file into a dict."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"config file not found: {p}")
    text = p.read_text()
    try:
        if p.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
    except Exception as e:  # noqa: BLE001 - parser errors vary by format
        raise InputError(f"cannot parse config file {p}: {e}") from None
    if not isinstance(data, dict):
        raise InputError(f"config file {p} must hold a mapping at the top level")
    return data


def deep_merge(base: dict, over: dict) -> dict:
    """``base`` updated by ``over``, merging nested dicts key by key (neither is modified)."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def drop_none(d: dict) -> dict:
    """``d`` without keys whose value is None (recursively): unset CLI flags override nothing."""
    return {k: (drop_none(v) if isinstance(v, dict) else v) for k, v in d.items()
            if v is not None}


def load_recipe(cls: type[T], presets: dict, default: str, kind: str,
                path: str | Path | None = None, overrides: dict | None = None) -> T:
    """Settings ``cls`` from a named preset, then a recipe file, then keyword overrides.

    A recipe file holds ``preset: NAME`` plus only the keys that change (nested mappings merge).
    Unknown presets or keys are an :class:`InputError`.
    """
    data = load_file(path) if path is not None else {}
    overrides = dict(overrides or {})
    name = overrides.pop("preset", None) or data.pop("preset", default)
    data.pop("preset", None)
    if name not in presets:
        raise InputError(f"unknown {kind} preset {name!r}; choose from {sorted(presets)}")
    merged = deep_merge(to_dict(presets[name]()), data)
    return from_dict(cls, deep_merge(merged, drop_none(overrides)))
