"""Windowed encode (issue 19): bounded per-pass length, exact where the one-shot fits."""

from __future__ import annotations

import numpy as np
import pytest

from llasa._common.errors import InputError
from llasa.codec import windows
from llasa.codec.features import pad_waveform


@pytest.fixture(scope="module")
def long_speech(speech):
    parts = [speech("Hello world, this is a sentence for windows."),
             speech("Another one follows.", voice="en-gb", speed=190)]
    return np.concatenate(parts)  # about 4.5 s: 230 frames, several windows of 60-100


@pytest.fixture(scope="module")
def one_shot(tiny_codec, long_speech):
    return tiny_codec.encode(long_speech)[0]


@pytest.mark.parametrize("t,window,context", [(1, 10, 2), (10, 10, 2), (11, 10, 2),
                                              (1000, 300, 50), (901, 100, 20), (57, 9, 4)])
def test_spans_tile_the_input_with_bounded_windows(t, window, context):
    got = windows.spans(t, window, context)
    assert [s for _, _, s, _ in got] == [0] + [e for _, _, _, e in got[:-1]]
    assert got[-1][3] == t
    for a, b, s, e in got:
        assert 0 <= a <= s < e <= b <= t and b - a <= window
        assert s - a >= min(context, s) and b - e >= min(context, t - e)


def test_short_input_equals_one_shot_with_acoustic_windows(tiny_codec, long_speech, one_shot):
    """Semantic encoder in one pass, acoustic CNN in 80-frame windows: the very same codes."""
    padded = pad_waveform(long_speech)
    got = windows.encode_windowed(tiny_codec, padded, window=len(padded) // 320,
                                  context=10, acoustic_window=80)
    assert np.array_equal(got, one_shot)


def test_long_input_runs_in_bounded_windows(tiny_codec, long_speech, one_shot):
    seen = {"semantic": [], "acoustic": []}
    hooks = [tiny_codec.net.semantic_encoder.register_forward_pre_hook(
                 lambda m, a: seen["semantic"].append(a[0].shape[1])),
             tiny_codec.net.acoustic_encoder.register_forward_pre_hook(
                 lambda m, a: seen["acoustic"].append(a[0].shape[-1] // 320))]
    try:
        codes = tiny_codec.encode(long_speech, window=100, context=20)[0]
    finally:
        for h in hooks:
            h.remove()
    t = len(long_speech) // 320 + 1
    assert len(codes) == t and len(seen["semantic"]) >= 3
    assert max(seen["semantic"]) <= 100 and max(seen["acoustic"]) <= 100
    # global attention makes windows differ a little from one pass; most codes agree
    agree = float(np.mean(codes == one_shot))
    assert agree > 0.9, agree


def test_batch_mixes_windowed_and_one_pass_inputs(tiny_codec, long_speech, speech):
    short = speech("Hello world.")
    mixed = tiny_codec.encode([long_speech, short], window=150, context=40)
    assert np.array_equal(mixed[1], tiny_codec.encode(short)[0])
    alone = windows.encode_windowed(tiny_codec, pad_waveform(long_speech), 150, 40)
    assert np.array_equal(mixed[0], alone)


def test_bad_window_is_an_input_error(tiny_codec, long_speech):
    with pytest.raises(InputError, match="window"):
        tiny_codec.encode(long_speech, window=40, context=20)
