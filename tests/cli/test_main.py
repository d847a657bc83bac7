import subprocess
import sys


def test_cli_help_and_error_without_traceback(tmp_path):
    out = subprocess.run([sys.executable, "-m", "llasa.cli", "--help"], capture_output=True,
                         text=True)
    assert out.returncode == 0 and "llasa" in out.stdout
