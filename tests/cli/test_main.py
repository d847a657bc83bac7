import subprocess
import sys


def test_cli_help_and_error_without_traceback(tmp_path):
    out = subprocess.run([sys.executable, "-m", "llasa.cli", "--help"], capture_output=True,
                         text=True)
    assert out.returncode == 0 and "llasa" in out.stdout


def test_help_has_no_sphinx_markup(capsys):
    """Issue 19: `llasa codec --help` printed its module docstring's :class:`...` roles."""
    from llasa.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        texts = [p.format_help()]
        for a in p._actions:
            if getattr(a, "choices", None) and isinstance(a.choices, dict):
                texts += [q.format_help() for q in a.choices.values()]
        for t in texts:
            assert ":class:`" not in t and ":func:`" not in t and ":mod:`" not in t, name
