import io
import struct

import numpy as np
import pytest
import soundfile as sf

from llasa.serve.formats import change_speed, encode_audio, pcm16, sse_audio_delta
from llasa.serve.formats import wav_stream_header


def _tone(n=16000):
    return (0.5 * np.sin(np.arange(n) * 2 * np.pi * 220 / 16000)).astype(np.float32)


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3", "opus"])
def test_whole_files_decode_back(fmt):
    x = _tone()
    y, sr = sf.read(io.BytesIO(encode_audio(x, 16000, fmt)), dtype="float32")
    assert sr in (16000, 48000)
    if fmt in ("wav", "flac"):  # lossless up to 16-bit quantisation
        assert sr == 16000 and len(y) == len(x) and np.abs(y - x).max() < 1e-4
    else:
        assert abs(len(y) / sr - 1.0) < 0.1


def test_pcm16_and_streamed_wav_header():
    x = _tone(321)
    b = pcm16(x)
    assert len(b) == 2 * 321
    assert np.abs(np.frombuffer(b, "<i2") / 32767 - x).max() < 1e-4
    h = wav_stream_header(16000)
    assert len(h) == 44 and h[:4] == b"RIFF" and h[8:16] == b"WAVEfmt "
    assert struct.unpack("<HHIIHH", h[20:36]) == (1, 1, 16000, 32000, 2, 16)
    # A player that reads to the end gets exactly the samples that followed the header.
    y, sr = sf.read(io.BytesIO(h + b), dtype="float32")
    assert sr == 16000 and len(y) == 321


def test_sse_delta_is_base64_pcm():
    import base64
    import json

    ev = sse_audio_delta(_tone(100))
    assert ev.startswith(b"data: ") and ev.endswith(b"\n\n")
    d = json.loads(ev[6:])
    assert d["type"] == "speech.audio.delta" and len(base64.b64decode(d["audio"])) == 200


def test_change_speed_changes_length_not_rate():
    x = _tone(32000)
    assert change_speed(x, 1.0) is x
    assert abs(len(change_speed(x, 2.0)) - 16000) < 400
    assert abs(len(change_speed(x, 0.5)) - 64000) < 800
