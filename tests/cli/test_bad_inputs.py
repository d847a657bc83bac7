"""Every CLI command on a corpus of bad inputs: exit status 2, one line, no traceback.

The README promises that every bad input is reported on one line; these cases once printed
tracebacks (issue 19) or are the obvious mistakes for each command. Each runs in-process
through ``llasa.cli.main.main``, so an escaping exception fails the test with its traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from llasa.cli.main import main


@pytest.fixture(scope="module")
def bad(tmp_path_factory, speech):
    d = tmp_path_factory.mktemp("bad")
    sf.write(d / "ok.wav", speech("Hello world."), 16000)
    (d / "a_dir.wav").mkdir()  # a directory with an audio name
    (d / "a_file.txt").write_text("x")
    (d / "latin1.jsonl").write_bytes(
        json.dumps({"audio": "ok.wav", "text": "caf"}).encode()[:-2] + b"\xe9\"}\n")
    folder = d / "corpus"
    folder.mkdir()
    sf.write(folder / "u1.wav", speech("Hello world."), 16000)
    (folder / "u1.txt").write_bytes(b"caf\xe9 au lait\n")
    (d / "manifest.jsonl").write_text(json.dumps({"audio": "ok.wav", "text": "Hello."}) + "\n")
    np.save(d / "codes.npy", np.arange(10))
    (d / "notaudio.wav").write_text("this is not audio")
    lm = d / "pickle_lm"
    lm.mkdir()
    (lm / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (lm / "pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    (d / "latin1.txt").write_bytes(b"caf\xe9\n")
    sf.write(d / "silent.wav", np.zeros(16000, np.float32), 16000)
    sf.write(d / "short.wav", speech("Hello world.")[:1600], 16000)  # 0.1 s
    return d


def _cases(d):
    f = d / "a_file.txt"
    return {
        "tts -o is a directory": ["tts", "Hello.", "-o", str(d / "a_dir.wav")],
        "tts -o below a file": ["tts", "Hello.", "-o", str(f / "x.wav")],
        "tts --scores-json below a file": ["tts", "Hello.", "-o", str(d / "o.wav"),
                                           "--verifier", "wer", "--scores-json",
                                           str(f / "s.json")],
        "tts huge search": ["tts", "Hello.", "-o", str(d / "o.wav"),
                            "--search", "best-of-n:100000"],
        "tts nan temperature": ["tts", "Hello.", "-o", str(d / "o.wav"),
                                "--temperature", "nan"],
        "tts latin-1 text file": ["tts", "--text-file", str(d / "latin1.txt"), "-o",
                                  str(d / "o.wav")],
        "tts pickle LM": ["tts", "Hello.", "-o", str(d / "o.wav"), "--lm", str(d / "pickle_lm")],
        "tts non-audio voice": ["tts", "Hello.", "-o", str(d / "o.wav"), "--voice-audio",
                                str(d / "notaudio.wav"), "--voice-text", "x"],
        "tts silent voice": ["tts", "Hello.", "-o", str(d / "o.wav"), "--voice-audio",
                             str(d / "silent.wav"), "--voice-text", "x"],
        "tts 0.1 s voice": ["tts", "Hello.", "-o", str(d / "o.wav"), "--voice-audio",
                            str(d / "short.wav"), "--voice-text", "x"],
        "voice add silent": ["voice", "add", "quiet", "--audio", str(d / "silent.wav"),
                             "--text", "x", "--voices-dir", str(d / "voices")],
        "codec encode -o below a file": ["codec", "encode", str(d / "ok.wav"), "-o",
                                         str(f / "c.npy")],
        "codec encode -o dir is a file": ["codec", "encode", str(d / "ok.wav"),
                                          str(d / "ok.wav"), "-o", str(f)],
        "codec encode missing input": ["codec", "encode", str(d / "nope.wav"), "-o",
                                       str(d / "c.npy")],
        "codec decode -o is a directory": ["codec", "decode", str(d / "codes.npy"), "-o",
                                           str(d / "a_dir.wav")],
        "codec decode not npy": ["codec", "decode", str(f), "-o", str(d / "o.wav")],
        "codec convert missing": ["codec", "convert", str(d / "nope"), str(d / "out")],
        "voice add newline name": ["voice", "add", "abc\n", "--audio", str(d / "ok.wav"),
                                   "--text", "x", "--voices-dir", str(d / "voices")],
        "voice show missing": ["voice", "show", "nobody", "--voices-dir", str(d / "voices")],
        "voice remove missing": ["voice", "remove", "nobody", "--voices-dir",
                                 str(d / "voices")],
        "data prepare latin-1 manifest": ["data", "prepare", str(d / "latin1.jsonl"),
                                          str(d / "prep1"), "--codec", str(d / "nope")],
        "data prepare latin-1 transcript": ["data", "prepare", str(d / "corpus"),
                                            str(d / "prep2"), "--codec", str(d / "nope")],
        "data prepare out_dir is a file": ["data", "prepare", str(d / "manifest.jsonl"),
                                           str(f), "--codec", str(d / "nope")],
        "data info missing": ["data", "info", str(d / "nope")],
        "data info a file": ["data", "info", str(f)],
        "data sentences out is a file": ["data", "sentences", str(f)],
        "data import-official missing": ["data", "import-official", str(d / "nope.bin"),
                                         str(d / "imp"), "--tokenizer", str(d / "nope")],
        "eval compare missing": ["eval", "compare", str(d / "nope.json")],
        "eval search missing list": ["eval", "search", "--list", str(d / "nope.lst"), "--out",
                                     str(d / "es")],
        "eval gate missing runs": ["eval", "gate", "--reference", str(d / "nope1"),
                                   "--candidate", str(d / "nope2")],
        "data synth-corpus out is a file": ["data", "synth-corpus", str(f)],
        "export onnx -o is a file": ["export", "onnx", "-o", str(f), "--lm",
                                     str(d / "pickle_lm")],
        "eval tts missing list": ["eval", "tts", "--list", str(d / "nope.lst"), "--out",
                                  str(d / "ev")],
        "eval codec --out is a file": ["eval", "codec", "--audio-dir", str(d / "corpus"),
                                       "--out", str(f)],
        "asr missing audio": ["asr", str(d / "nope.wav")],
        "asr non-audio": ["asr", str(d / "notaudio.wav")],
        "train lm missing config": ["train", "lm", "--config", str(d / "nope.yaml")],
        "train codec missing config": ["train", "codec", "--config", str(d / "nope.yaml")],
        "train merge-lora missing": ["train", "merge-lora", str(d / "nope"), "-o",
                                     str(d / "merged")],
        "quantize pickle LM": ["quantize", "--lm", str(d / "pickle_lm"), "--method", "int8",
                               "-o", str(d / "q")],
        "serve bad port": ["serve", "--port", "70000"],
    }


def _names():
    from pathlib import Path

    return list(_cases(Path("/x")))


@pytest.mark.parametrize("name", _names())
def test_bad_input_is_one_line_exit_2(bad, name, capsys):
    argv = _cases(bad)[name]
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2, (name, err)
    assert len(lines) == 1 and lines[0].startswith("llasa: error: "), (name, err)
    assert "Traceback" not in err and " at 0x" not in err, (name, err)


def test_output_checked_before_synthesis(bad, capsys):
    """A bad -o fails before any model loads: the LM path below does not even exist."""
    rc = main(["tts", "Hello.", "-o", str(bad / "a_dir.wav"), "--lm", str(bad / "nope")])
    assert rc == 2 and "is a directory" in capsys.readouterr().err


def test_stdin_must_be_utf8(tmp_path):
    r = subprocess.run([sys.executable, "-m", "llasa.cli", "tts", "-", "-o",
                        str(tmp_path / "o.wav"), "--lm", str(tmp_path / "nope")],
                       input=b"caf\xe9\n", capture_output=True, timeout=120)
    err = r.stderr.decode()
    assert r.returncode == 2 and "stdin is not UTF-8" in err and "Traceback" not in err, err
