"""`llasa tts --engine`: the shipped model runs on the onnx engine without importing torch."""

import subprocess
import sys

import numpy as np
import soundfile as sf

from llasa.cli.main import main

CHECK = """
import sys
from llasa.cli.main import main
rc = main(sys.argv[1:])
heavy = sorted(m for m in ("torch", "transformers") if m in sys.modules)
print("heavy:", heavy)
sys.exit(rc)
"""


def test_fast_path_imports_no_torch_and_speaks(tmp_path):
    out = tmp_path / "x.wav"
    r = subprocess.run([sys.executable, "-c", CHECK, "tts",
                        "Please close the window before you leave.", "-o", str(out),
                        "--seed", "0"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "heavy: []" in r.stdout, r.stdout
    assert "onnx engine" in r.stdout
    audio, sr = sf.read(out)
    assert sr == 16000 and 1.0 < len(audio) / sr < 6.0
    assert np.sqrt(np.mean(audio ** 2)) > 0.01


def test_engine_onnx_needs_an_export(tmp_path, capsys):
    from llasa.tts.defaults import default_model_dir

    rc = main(["tts", "Hi.", "-o", str(tmp_path / "y.wav"), "--engine", "onnx",
               "--lm", str(default_model_dir() / "lm")])
    err = capsys.readouterr().err
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and "llasa export onnx" in err
    rc = main(["tts", "Hi.", "-o", str(tmp_path / "y.wav"), "--engine", "onnx", "--stream"])
    err = capsys.readouterr().err
    assert rc == 2 and "--stream" in err and len(err.strip().splitlines()) == 1


def test_auto_falls_back_to_torch_for_torch_options():
    from llasa.cli.main import build_parser
    from llasa.cli.tts import pick_engine

    def engine(*extra):
        return pick_engine(build_parser().parse_args(["tts", "Hi.", "-o", "x.wav", *extra]))[0]

    assert engine() == "onnx"
    assert engine("--device", "cpu", "--seed", "3", "--temperature", "0.7") == "onnx"
    for extra in (["--stream"], ["--cfg-scale", "2"], ["--device", "cuda"],
                  ["--lm", "HKUSTAudio/Llasa-1B"], ["--engine", "torch"]):
        assert engine(*extra) == "torch", extra


def test_export_command_help():
    r = subprocess.run([sys.executable, "-m", "llasa.cli", "export", "onnx", "--help"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "llasa export onnx" in r.stdout


def test_saved_voice_runs_on_the_onnx_engine(tmp_path, capsys):
    from llasa import Llasa
    from llasa.tts import Voice

    tts = Llasa.from_onnx()
    ref = tts.synthesize("Please wait here.", do_sample=False)
    Voice("Please wait here.", ref.codes, ref.audio, tts.codec.codebook_size).save(
        tmp_path / "v.npz")
    out = tmp_path / "c.wav"
    rc = main(["tts", "Good morning.", "-o", str(out), "--voice", str(tmp_path / "v.npz"),
               "--seed", "0"])
    assert rc == 0 and "onnx engine" in capsys.readouterr().out
    audio, sr = sf.read(out)
    assert sr == 16000 and len(audio) > 8000
