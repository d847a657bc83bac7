"""`llasa tts` and `llasa voice` run for real on a tiny LM + tiny codec saved to disk."""

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from llasa.cli.main import main


@pytest.fixture(scope="module")
def models(tiny_model_args):
    return tiny_model_args  # the shared tiny LM + codec on disk (tests/conftest.py)


def _run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_tts_writes_wav_and_reports(models, tmp_path, capsys):
    out = tmp_path / "a.wav"
    rc, so, se = _run(capsys, "tts", "Hello there.", "-o", str(out), *models, "--seed", "3",
                      "--max-new-tokens", "20", "--temperature", "0.9", "--top-k", "10")
    assert rc == 0, se
    wav, sr = sf.read(out)
    assert sr == 16000 and len(wav) == 20 * 320
    assert f"wrote {out} (0.40 s of audio, 20 tokens, hit the token cap" in so
    rc, so, se = _run(capsys, "tts", "Hello there.", "-o", str(tmp_path / "b.wav"), *models,
                      "--seed", "3", "--max-new-tokens", "20", "--temperature", "0.9",
                      "--top-k", "10")
    assert rc == 0 and out.read_bytes() == (tmp_path / "b.wav").read_bytes()  # same seed


def test_tts_text_from_file_and_stdin_and_duration(models, tmp_path, capsys, monkeypatch):
    f = tmp_path / "t.txt"
    f.write_text("From a file.\n", encoding="utf-8")
    rc, so, se = _run(capsys, "tts", "--text-file", str(f), "-o", str(tmp_path / "f.wav"),
                      *models, "--duration", "0.5", "--seed", "0")
    assert rc == 0, se
    assert len(sf.read(tmp_path / "f.wav")[0]) == 8000 and "0.50 s of audio" in so
    monkeypatch.setattr(sys, "stdin", io.StringIO("From standard input."))
    rc, so, se = _run(capsys, "tts", "-", "-o", str(tmp_path / "s.flac"), *models,
                      "--max-new-tokens", "5", "--greedy")
    assert rc == 0, se
    assert len(sf.read(tmp_path / "s.flac")[0]) == 5 * 320


@pytest.mark.parametrize("argv,msg", [
    (["tts", "", "-o", "x.wav"], "text is empty"),
    (["tts", "   ", "-o", "x.wav"], "text is empty"),
    (["tts", "too long text", "-o", "x.wav", "--max-chars", "5"], "over the limit of 5"),
    (["tts", "hi", "-o", "x.wav", "--temperature", "0"], "temperature must be"),
    (["tts", "hi", "-o", "x.wav", "--top-p", "1.5"], "top_p must lie in (0, 1]"),
    (["tts", "hi", "-o", "x.wav", "--top-p", "0"], "top_p must lie in (0, 1]"),
    (["tts", "hi", "-o", "x.wav", "--top-k", "-1"], "top_k"),
    (["tts", "hi", "-o", "x.wav", "--cfg-scale", "0.5"], "cfg_scale must be"),
    (["tts", "hi", "-o", "x.wav", "--duration", "-2"], "duration must be a positive"),
    (["tts", "hi", "-o", "x.mp3"], "output must end in"),
    (["tts", "-o", "x.wav"], "exactly once"),
    (["tts", "hi", "-o", "x.wav", "--voice", "a", "--voice-audio", "b.wav"], "either --voice"),
    (["tts", "hi", "-o", "x.wav", "--voice-text", "words"], "--voice-text needs"),
    (["tts", "hi", "-o", "x.wav", "--voice-audio", "missing.wav", "--voice-text", "w"],
     "voice audio not found"),
    (["tts", "hi", "-o", "x.wav", "--voice", "nobody", "--voices-dir", "{tmp}"],
     "no voice named 'nobody'"),
    (["tts", "hi", "-o", "x.wav", "--voice", "a b", "--voices-dir", "{tmp}"], "bad voice name"),
    (["tts", "hi", "-o", "x.wav", "--voice", "../v.npz"], "voice file not found"),
    (["tts", "hi", "-o", "x.wav", "--lm", "/no/such/dir", "--codec", "/no/such"],
     "does not exist"),
])
def test_tts_errors_are_early_and_clear(argv, msg, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    rc, so, se = _run(capsys, *argv)
    assert rc == 2 and msg in se and "Traceback" not in se, se


def test_no_default_model_message_without_traceback(tmp_path):
    import os

    env = dict(os.environ, LLASA_DEFAULT_MODEL_DIR=str(tmp_path / "none"))  # nothing there
    out = subprocess.run([sys.executable, "-m", "llasa.cli", "tts", "hi", "-o",
                          str(tmp_path / "x.wav")], capture_output=True, text=True, env=env)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "--lm" in out.stderr and "--codec" in out.stderr


def test_voice_add_list_show_remove_and_use(models, tmp_path, capsys, speech):
    wav = tmp_path / "me.wav"
    sf.write(wav, speech("Hello, this is my voice.")[:16000], 16000)
    reg = ["--voices-dir", str(tmp_path / "voices")]
    codec = models[2:]
    rc, so, se = _run(capsys, "voice", "add", "me", "--audio", str(wav), "--text",
                      "Hello, this is", *codec, *reg)
    assert rc == 0 and "saved voice 'me' (1.00 s, 51 codes)" in so, se
    rc, so, se = _run(capsys, "voice", "add", "me", "--audio", str(wav), "--text", "x", *reg)
    assert rc == 2 and "already exists" in se
    rc, so, _ = _run(capsys, "voice", "list", *reg)
    assert so.split() == ["me"]
    rc, so, _ = _run(capsys, "voice", "show", "me", *reg)
    assert "text: Hello, this is" in so
    out = tmp_path / "cloned.wav"
    rc, so, se = _run(capsys, "tts", "Now in my voice.", "-o", str(out), "--voice", "me", *reg,
                      *models, "--max-new-tokens", "8", "--seed", "0")
    assert rc == 0 and len(sf.read(out)[0]) == 8 * 320, se
    # --voice-audio/--voice-text build the same voice on the fly: same seed, same audio.
    out2 = tmp_path / "cloned2.wav"
    rc, so, se = _run(capsys, "tts", "Now in my voice.", "-o", str(out2), "--voice-audio",
                      str(wav), "--voice-text", "Hello, this is", *models,
                      "--max-new-tokens", "8", "--seed", "0")
    assert rc == 0, se
    np.testing.assert_allclose(sf.read(out)[0], sf.read(out2)[0], atol=1e-4)
    rc, so, _ = _run(capsys, "voice", "remove", "me", *reg)
    assert rc == 0 and "removed voice 'me'" in so
    rc, so, _ = _run(capsys, "voice", "list", *reg)
    assert "no voices" in so
    rc, _, se = _run(capsys, "voice", "add", "x", "--audio", str(wav), "--text", " ", *reg)
    assert rc == 2 and "--text is empty" in se
    rc, _, se = _run(capsys, "voice", "add", "abc\n", "--audio", str(wav), "--text", "x", *reg)
    assert rc == 2 and "bad voice name" in se and not list(Path(reg[-1]).glob("abc*"))


def test_killed_stream_leaves_a_valid_wav(models, tmp_path):
    """Issue 19: `kill -9` during --stream left a header saying 0 samples (sox read 0 s)."""
    import signal
    import time

    out = tmp_path / "k.wav"
    p = subprocess.Popen([sys.executable, "-m", "llasa.cli", "tts", "A long stream.", *models,
                          "--seed", "0", "--max-new-tokens", "3000", "-o", str(out), "--stream",
                          "--engine", "torch"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and p.poll() is None:
        if out.exists() and out.stat().st_size > 44 + 2 * 320 * 60:  # a few chunks written
            break
        time.sleep(0.05)
    assert p.poll() is None, "the stream finished before it could be killed"
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    raw = out.read_bytes()
    riff, data_bytes = (int.from_bytes(raw[i:i + 4], "little") for i in (4, 40))
    # the header itself (what sox reads) counts the samples written (all of them, or all but
    # the last chunk when the kill lands between a chunk and its header update)
    assert 0 < data_bytes <= len(raw) - 44 and riff == data_bytes + 36
    data, sr = sf.read(out)
    assert sr == 16000 and 2 * len(data) == data_bytes


def test_tts_stream_writes_the_same_length_as_full(models, tmp_path, capsys):
    args = ["Streaming to a file.", *models, "--seed", "2", "--max-new-tokens", "40"]
    rc, so, se = _run(capsys, "tts", *args, "-o", str(tmp_path / "s.wav"), "--stream")
    assert rc == 0, se
    from llasa.codec.streaming import StreamSettings

    first = min(40, StreamSettings().chunk + StreamSettings().lookahead)  # documented latency
    assert f"first audio after {first} tokens" in so and "0.80 s of audio" in so
    rc, _, se = _run(capsys, "tts", *args, "-o", str(tmp_path / "f.wav"))
    assert rc == 0, se
    s, f = sf.read(tmp_path / "s.wav")[0], sf.read(tmp_path / "f.wav")[0]
    assert len(s) == len(f) == 40 * 320
    assert np.sum(f ** 2) / np.sum((f - s) ** 2) > 10  # codec streaming tolerance
    rc, _, se = _run(capsys, "tts", "hi", "-o", str(tmp_path / "x.flac"), "--stream")
    assert rc == 2 and "--stream writes WAV only" in se


def test_no_carry_flag_reaches_the_pipeline_limits(tmp_path):
    import argparse

    from llasa.cli.tts import check_args, register

    sub = argparse.ArgumentParser().add_subparsers()
    register(sub)
    parser = sub.choices["tts"]
    for extra, carry in (([], None), (["--no-carry"], False), (["--carry"], True)):
        args = parser.parse_args(["Two sentences. Here.", "-o", str(tmp_path / "x.wav"), *extra])
        _, limits, _ = check_args(args)
        assert limits.carry is carry  # None: what the model declares
    with pytest.raises(SystemExit):  # one or the other
        parser.parse_args(["x", "-o", str(tmp_path / "x.wav"), "--carry", "--no-carry"])
