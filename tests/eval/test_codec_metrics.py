"""PESQ/STOI/mel distance on real espeak-ng speech: identical audio is perfect, damage lowers it."""

import numpy as np
import pytest

from llasa._common.errors import InputError
from llasa.eval.codec_metrics import (mel_distance, pesq_score, reconstruction_metrics,
                                      stoi_score)


@pytest.fixture(scope="module")
def clip(speech):
    return speech("The quick brown fox jumps over the lazy dog.")


def test_identical_audio_scores_the_maximum(clip):
    m = reconstruction_metrics(clip, clip)
    assert m["pesq_wb"] > 4.5  # P.862.2 ceiling is 4.64
    assert m["pesq_nb"] > 4.4  # P.862 ceiling is 4.55
    assert m["stoi"] == pytest.approx(1.0, abs=1e-6)
    assert m["mel_l1"] == 0.0


def test_noise_lowers_every_metric_monotonically(clip):
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(clip.size).astype(np.float32)
    light, heavy = clip + 0.003 * noise, clip + 0.1 * noise
    for fn in (lambda d: pesq_score(clip, d, "wb"), lambda d: pesq_score(clip, d, "nb"),
               lambda d: stoi_score(clip, d)):
        assert fn(clip) > fn(light) > fn(heavy)
    assert 0 < mel_distance(clip, light) < mel_distance(clip, heavy)


def test_length_mismatch_is_cropped_like_a_codec_hop(clip):
    # A codec may return up to one hop (320 samples) more: the common prefix is compared.
    padded = np.concatenate([clip, np.zeros(320, np.float32)])
    assert pesq_score(clip, padded) > 4.5


def test_silence_gives_nan_not_a_crash(clip):
    assert np.isnan(pesq_score(clip, np.zeros_like(clip)))


def test_bad_inputs_raise_clear_errors(clip):
    with pytest.raises(InputError, match="mode"):
        pesq_score(clip, clip, "xx")
    with pytest.raises(InputError, match="16 kHz"):
        pesq_score(clip, clip, "wb", sr=8000)
    with pytest.raises(InputError, match="empty"):
        stoi_score(clip, np.zeros(0, np.float32))
    with pytest.raises(InputError, match="NaN"):
        stoi_score(clip, np.full_like(clip, np.nan))
    with pytest.raises(InputError, match="0.25 s"):
        pesq_score(clip[:1000], clip[:1000])
