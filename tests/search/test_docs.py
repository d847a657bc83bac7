"""The no-download example in docs/search.md runs as written and prints what it says."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "search.md"


def test_tiny_example_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    example = next(b for b in blocks if "tiny_lm" in b)
    exec(compile(example, str(DOC), "exec"), {})
    strategy, chosen, tokens, calls = capsys.readouterr().out.split()
    assert strategy == "best-of-n:4" and 0 <= int(chosen) < 4
    assert (tokens, calls) == ("80", "1")
