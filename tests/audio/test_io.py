import numpy as np
import pytest
import soundfile as sf

from llasa._common.errors import InputError, LlasaError
from llasa.audio import AudioLimits, load_audio, save_audio, validate_waveform
from llasa.audio.io import encode_audio_bytes


def test_load_resamples_and_downmixes(tmp_path, speech):
    wav = speech("Hello world.")
    stereo = np.stack([wav, 0.5 * wav], axis=1)
    p = tmp_path / "s.flac"
    sf.write(p, stereo, 16000)
    out = load_audio(p)
    assert out.dtype == np.float32 and out.ndim == 1
    np.testing.assert_allclose(out, 0.75 * wav, atol=1e-3)  # FLAC is 16-bit
    p44 = tmp_path / "s44.wav"
    sf.write(p44, wav, 44100)  # pretend it is 44.1 kHz: length scales by 16/44.1
    assert abs(len(load_audio(p44)) - round(len(wav) * 16000 / 44100)) <= 2


@pytest.mark.parametrize("fmt", ["wav", "flac", "ogg"])
def test_roundtrip_formats(tmp_path, speech, fmt):
    wav = speech("Testing formats.")
    p = save_audio(tmp_path / f"x.{fmt}", wav)
    back = load_audio(p)
    assert abs(len(back) - len(wav)) < 2000
    if fmt != "ogg":
        np.testing.assert_allclose(back, wav, atol=1e-3)
    assert load_audio(encode_audio_bytes(wav, fmt=fmt)).size > 0


def test_bad_inputs_raise_one_error_type(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_audio(tmp_path / "missing.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        load_audio(tmp_path / "empty.wav")
    (tmp_path / "junk.wav").write_bytes(b"RIFF1234WAVEjunkjunkjunk" * 10)
    with pytest.raises(InputError, match="cannot read audio"):
        load_audio(tmp_path / "junk.wav")
    sf.write(tmp_path / "zero.wav", np.zeros((0,), np.float32), 16000)
    with pytest.raises(InputError):
        load_audio(tmp_path / "zero.wav")
    sf.write(tmp_path / "long.wav", np.zeros(16000 * 3, np.float32), 16000)
    with pytest.raises(InputError, match="over the limit"):
        load_audio(tmp_path / "long.wav", limits=AudioLimits(max_seconds=2))
    nan = np.zeros(1600, np.float32)
    nan[5] = np.nan
    with pytest.raises(InputError, match="NaN"):
        validate_waveform(nan)
    sf.write(tmp_path / "nan.wav", nan, 16000, subtype="FLOAT")
    with pytest.raises(InputError, match="NaN"):
        load_audio(tmp_path / "nan.wav")
    with pytest.raises(LlasaError, match="extension"):
        save_audio(tmp_path / "x.mp9", np.zeros(100, np.float32))
