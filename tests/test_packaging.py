"""pyproject.toml: metadata that installs without deprecation warnings (issue 19)."""

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]


def test_license_is_an_spdx_string():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    # `license = {text = ...}` makes setuptools >= 77 warn on every install
    assert isinstance(meta["project"]["license"], str)
    assert any(r.replace(" ", "").startswith("setuptools>=77")
               for r in meta["build-system"]["requires"])
