import subprocess
import sys


def test_serve_help_and_clear_error_for_missing_model(tmp_path):
    out = subprocess.run([sys.executable, "-m", "llasa.cli", "serve", "--help"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "--api-key" in out.stdout and "curl" in out.stdout
    out = subprocess.run([sys.executable, "-m", "llasa.cli", "serve", "--lm",
                          str(tmp_path / "nope"), "--codec", str(tmp_path / "nope"),
                          "--data-dir", str(tmp_path / "d")], capture_output=True, text=True)
    assert out.returncode == 2 and "llasa: error" in out.stderr
    assert "Traceback" not in out.stderr
    out = subprocess.run([sys.executable, "-m", "llasa.cli", "serve", "--max-queue", "0"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "max_queue" in out.stderr and "Traceback" not in out.stderr
