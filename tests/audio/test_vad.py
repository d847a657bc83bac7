"""silero-vad trimming on real espeak-ng speech padded with silence and noise."""

import numpy as np
import pytest

from llasa._common.errors import InputError
from llasa.audio.vad import SileroVad, VadSettings

SR = 16000


@pytest.fixture(scope="module")
def vad():
    return SileroVad()


def test_trim_removes_padding_and_keeps_speech(vad, speech):
    wav = speech("The quick brown fox jumps over the lazy dog.")
    rng = np.random.default_rng(0)
    lead, tail = np.zeros(SR, np.float32), np.zeros(int(1.5 * SR), np.float32)
    lead += rng.normal(0, 1e-3, lead.size).astype(np.float32)  # faint noise, not speech
    padded = np.concatenate([lead, wav, tail])
    out = vad.trim(padded)
    # The speech itself is kept (within the 100 ms pad on each side, plus espeak's own
    # trailing silence that VAD may also cut), and most of the 2.5 s of padding is gone.
    assert wav.size * 0.8 < out.size < wav.size + 0.5 * SR
    seg = vad.speech_segments(padded)
    assert seg[0][0] >= SR - int(0.15 * SR), seg
    assert seg[-1][1] <= SR + wav.size + int(0.15 * SR), seg


def test_silence_has_no_speech(vad):
    quiet = np.random.default_rng(1).normal(0, 1e-4, 2 * SR).astype(np.float32)
    assert vad.speech_segments(quiet) == []
    assert vad.trim(quiet).size == 0
    assert vad.trim(np.zeros(0, np.float32)).size == 0


def test_bad_input(vad):
    with pytest.raises(InputError, match="8 or 16 kHz"):
        vad.speech_segments(np.zeros(100, np.float32), sr=22050)
    with pytest.raises(InputError):
        VadSettings(threshold=1.5)
