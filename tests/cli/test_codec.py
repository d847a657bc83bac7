"""`llasa codec encode|decode|convert` round trips on a tiny codec and real espeak-ng speech."""

from __future__ import annotations

import numpy as np
import soundfile as sf

import pytest

from llasa.cli.main import main


@pytest.fixture(scope="module")
def tiny_cli_codec(tmp_path_factory):
    from llasa.codec import Codec, presets

    return Codec.from_config(presets.tiny(), seed=1).save_pretrained(
        tmp_path_factory.mktemp("cli-codec"))


def test_encode_decode_round_trip(tmp_path, speech, tiny_cli_codec, capsys):
    from llasa.audio import save_audio

    wav = speech("Round trip through the command line.")
    src = save_audio(tmp_path / "in.wav", wav)
    assert main(["codec", "encode", str(src), "-o", str(tmp_path / "c.npy"),
                 "--codec", str(tiny_cli_codec)]) == 0
    codes = np.load(tmp_path / "c.npy")
    assert codes.dtype == np.int64 and len(codes) == len(wav) // 320 + 1
    assert main(["codec", "decode", str(tmp_path / "c.npy"), "-o", str(tmp_path / "out.wav"),
                 "--codec", str(tiny_cli_codec)]) == 0
    out, sr = sf.read(tmp_path / "out.wav")
    assert sr == 16000 and len(out) == 320 * len(codes)
    # several inputs go to a directory
    assert main(["codec", "encode", str(src), str(src), "-o", str(tmp_path / "many"),
                 "--codec", str(tiny_cli_codec)]) == 0
    assert (tmp_path / "many" / "in.npy").exists()


def test_bad_inputs_are_clear_errors(tmp_path, tiny_cli_codec, capsys):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    assert main(["codec", "encode", str(bad), "-o", str(tmp_path / "x.npy"),
                 "--codec", str(tiny_cli_codec)]) == 2
    assert "cannot read audio" in capsys.readouterr().err
    np.save(tmp_path / "big.npy", np.array([1, 2, 99999]))
    assert main(["codec", "decode", str(tmp_path / "big.npy"), "-o", str(tmp_path / "o.wav"),
                 "--codec", str(tiny_cli_codec)]) == 2
    err = capsys.readouterr().err
    assert "[0, 65536)" in err and "Traceback" not in err
    assert main(["codec", "decode", str(tmp_path / "none.npy"), "-o", str(tmp_path / "o.wav"),
                 "--codec", str(tiny_cli_codec)]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["codec", "convert", str(tmp_path / "missing"), str(tmp_path / "dst")]) == 2
    assert "does not exist" in capsys.readouterr().err
