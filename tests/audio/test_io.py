import io

import numpy as np
import pytest
import soundfile as sf

from llasa._common.errors import InputError, LlasaError
from llasa.audio import AudioLimits, load_audio, save_audio, validate_waveform


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
    buf = io.BytesIO()  # bytes (an upload) load as a file does
    sf.write(buf, wav, 16000, format={"wav": "WAV", "flac": "FLAC", "ogg": "OGG"}[fmt])
    assert load_audio(buf.getvalue()).size > 0


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


def test_wav_appender_header_valid_after_every_chunk(tmp_path):
    """Issue 19: a killed --stream run left a header saying 0 samples (libsndfile writes
    sizes on close only). Each write now leaves a complete, readable file."""
    import soundfile as sf

    from llasa.audio.io import WavAppender, save_audio

    rng = np.random.default_rng(0)
    chunks = [rng.uniform(-1.2, 1.2, n).astype(np.float32) for n in (640, 1, 3200)]
    w = WavAppender(tmp_path / "s.wav")
    for i in range(len(chunks)):
        w.write(chunks[i])
        data, sr = sf.read(tmp_path / "s.wav", dtype="int16")  # still open: never closed
        assert sr == 16000 and len(data) == sum(len(c) for c in chunks[:i + 1])
    w.close()
    save_audio(tmp_path / "ref.wav", np.concatenate(chunks))
    assert (tmp_path / "s.wav").read_bytes() == (tmp_path / "ref.wav").read_bytes()


def test_wav_appender_survives_kill_9(tmp_path):
    import signal
    import subprocess
    import sys

    import soundfile as sf

    out = tmp_path / "k.wav"
    code = ("import sys, time, numpy as np\n"
            "from llasa.audio.io import WavAppender\n"
            f"w = WavAppender({str(out)!r})\n"
            "for i in range(1000):\n"
            "    w.write(np.full(1600, 0.25, np.float32)); print(i, flush=True); time.sleep(0.05)\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    for _ in range(3):
        p.stdout.readline()
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    data, sr = sf.read(out)
    assert len(data) >= 3 * 1600 and len(data) % 1600 == 0
    assert np.allclose(data, 0.25, atol=1e-4)
