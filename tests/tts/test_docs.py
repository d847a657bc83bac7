"""The runnable example in docs/tts.md runs as written."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "tts.md"


def test_tiny_model_example_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert "tiny_lm" in blocks[0]
    exec(compile(blocks[0], str(DOC), "exec"), {})
    printed = capsys.readouterr().out.split()
    assert printed[0] == "1.0" and printed[1] == "(50,)"
