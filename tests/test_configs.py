"""Every shipped config file loads and validates, and names the command that runs it."""

import json
from pathlib import Path

import pytest
import yaml

from llasa.training.codec_config import load_recipe as codec_recipe
from llasa.training.lm_config import load_recipe as lm_recipe

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
LOADERS = {"codec": codec_recipe, "lm": lm_recipe}


def _files():
    return sorted(p for p in CONFIGS.rglob("*") if p.is_file())


def test_every_config_is_checked():
    known = set(LOADERS) | {"accelerate", "default"}
    assert {p.parent.name for p in _files()} <= known, "a new configs/ folder needs a loader here"


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(CONFIGS)))
def test_config_loads(path):
    if path.suffix == ".json":
        assert isinstance(json.loads(path.read_text()), dict)
        return
    text = path.read_text()
    assert isinstance(yaml.safe_load(text), dict)
    if path.parent.name == "accelerate":
        return
    header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    assert "--config" in header or "recipes/" in header, \
        f"{path}: its header comment must show the command that runs it"
    # configs/default/{codec,lm,lm_small}.yaml: the loader named by the stem's first part
    loader = LOADERS.get(path.parent.name) or LOADERS[path.stem.split("_")[0]]
    loader(path)


def test_unknown_keys_are_rejected(tmp_path):
    from llasa._common.errors import InputError

    bad = tmp_path / "bad.yaml"
    bad.write_text("preset: tiny\nno_such_setting: 1\n")
    for loader in LOADERS.values():
        with pytest.raises(InputError, match="no_such_setting"):
            loader(bad)
