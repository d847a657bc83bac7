"""The import direction of docs/architecture.md: audio → codec → lm → tts → search → serve.

An AST walk over src/llasa fails on any import of a layer a module may not use.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "src" / "llasa"

# package → llasa subpackages it may import (besides itself)
ALLOWED = {
    "_common": set(),
    "audio": {"_common"},
    "codec": {"audio", "_common"},
    "verifiers": {"audio", "_common"},
    "lm": {"_common"},
    "tts": {"lm", "codec", "audio", "_common"},
    "search": {"tts", "lm", "codec", "verifiers", "audio", "_common"},
    "training": {"search", "tts", "lm", "codec", "verifiers", "audio", "_common"},
    "eval": {"search", "tts", "lm", "codec", "verifiers", "audio", "_common"},
    "serve": {"tts", "search", "verifiers", "audio", "_common"},
    "cli": {"tts", "search", "lm", "codec", "verifiers", "audio", "training", "eval", "serve",
            "_common"},
}


def _imports(path: Path, package: str):
    tree = ast.parse(path.read_text())
    rel_parts = path.relative_to(ROOT).parts
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                # relative: resolve against the module's package
                base = list(rel_parts[:-1])[: len(rel_parts) - node.level]
                mod = ".".join(base + ([node.module] if node.module else []))
                yield mod.split(".")[0] if mod else package
            elif node.module and node.module.startswith("llasa."):
                yield node.module.split(".")[1]
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("llasa."):
                    yield a.name.split(".")[1]


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_layer_imports(package):
    bad = []
    for path in (ROOT / package).rglob("*.py"):
        for target in _imports(path, package):
            if target and target != package and target not in ALLOWED[package]:
                bad.append(f"{path.relative_to(ROOT)} imports llasa.{target}")
    assert not bad, "upward/sideways imports:\n" + "\n".join(bad)


def test_no_module_over_400_lines():
    long = [f"{p.relative_to(ROOT)}: {n}" for p in ROOT.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400]
    assert not long, long


def test_import_llasa_loads_no_torch():
    import subprocess
    import sys

    code = "import sys, llasa; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_architecture_doc_states_these_rules():
    """docs/architecture.md's layer table is this test's ALLOWED, row for row."""
    import re

    doc = (ROOT.parents[1] / "docs" / "architecture.md").read_text()
    rows = {}
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and re.fullmatch(r"`\w+`", cells[0]):
            rows[cells[0].strip("`")] = set(re.findall(r"`(\w+)`", cells[1]))
    assert set(rows) == set(ALLOWED)
    for package, allowed in ALLOWED.items():
        assert rows[package] == allowed - {"_common"}, package
