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


# --------------------------------------------------------------- what `pip install` brings
def _meta():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _name(req: str) -> str:
    import re

    return re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0].lower().replace("_", "-")


def _module_level_imports(files) -> set[str]:
    """Third-party top-level modules imported at the top of ``files`` (not inside functions:
    those load only when their feature runs)."""
    import ast
    import sys

    out = set()
    for path in files:
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            out |= {n.split(".")[0] for n in names}
    return out - set(sys.stdlib_module_names) - {"llasa", "__future__"}


def _distributions(modules: set[str]) -> set[str]:
    from importlib.metadata import packages_distributions

    dists = packages_distributions()
    return {_name(d) for m in modules for d in dists.get(m, [m])}


def _declared(*extras: str) -> set[str]:
    meta = _meta()
    reqs = list(meta["dependencies"])
    todo = list(extras)
    while todo:  # extras may name others: llasa[search]
        for r in meta["optional-dependencies"][todo.pop()]:
            if r.startswith("llasa["):
                todo += r[len("llasa["):-1].split(",")
            else:
                reqs.append(r)
    return {_name(r) for r in reqs}


SRC = ROOT / "src" / "llasa"
# implied by a declared package (fastapi brings pydantic and starlette)
IMPLIED = {"pydantic", "starlette"}


def test_extras_exist_and_all_names_every_one():
    extras = _meta()["optional-dependencies"]
    assert {"search", "serve", "eval", "train"} <= set(extras)
    assert _declared("all") >= _declared(*[e for e in extras if e != "all"])


@pytest.mark.parametrize("extra,packages", [
    ((), ("_common", "audio", "codec", "lm", "tts", "cli")),  # `pip install llasa`: inference
    (("search",), ("verifiers", "search")),
    (("serve",), ("serve",)),
    (("eval",), ("eval",)),
    (("train",), ("training", "codec/losses.py")),  # the codec's training losses (librosa)
])
def test_every_module_level_import_is_declared(extra, packages):
    training_only = {SRC / "codec" / "losses.py"}
    files = [p for pkg in packages for p in ([SRC / pkg] if pkg.endswith(".py") else
                                              (SRC / pkg).rglob("*.py"))
             if extra or p not in training_only]
    missing = _distributions(_module_level_imports(files)) - _declared(*extra) - IMPLIED
    assert not missing, f"imported at module level but not declared for {extra}: {missing}"


def test_inference_needs_no_extra():
    """What `pip install llasa` leaves out is only what training or serving loads."""
    core = _declared()
    for dist in ("fastapi", "uvicorn", "librosa", "matplotlib", "jiwer"):
        assert dist not in core
