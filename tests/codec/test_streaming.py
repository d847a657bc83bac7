"""Streaming decode: exact lengths, chunking-independent output, exact with full context."""

import numpy as np
import pytest

from llasa._common.errors import InputError
from llasa.codec import StreamSettings


@pytest.fixture(scope="module")
def codes():
    return np.random.default_rng(5).integers(0, 65536, 97)


def _stream(codec, codes, sizes, settings):
    chunks, i, k = [], 0, 0
    while i < len(codes):
        n = sizes[k % len(sizes)]
        chunks.append(codes[i:i + n])
        i, k = i + n, k + 1
    return list(codec.decode_stream(iter(chunks), settings))


@pytest.mark.parametrize("settings", [StreamSettings(), StreamSettings(chunk=7, left_context=5,
                                      lookahead=3, crossfade=2), StreamSettings(chunk=1,
                                      left_context=0, lookahead=0, crossfade=0)])
def test_length_and_independence_of_arrival(tiny_codec, codes, settings):
    a = _stream(tiny_codec, codes, [1], settings)
    b = _stream(tiny_codec, codes, [13, 0, 2, 40], settings)
    ya, yb = np.concatenate(a), np.concatenate(b)
    assert len(ya) == 320 * len(codes)
    assert np.array_equal(ya, yb), "output must not depend on how codes arrive"
    assert all(x.dtype == np.float32 for x in a)


def test_audio_arrives_before_the_end(tiny_codec, codes):
    st = StreamSettings(chunk=10, left_context=10, lookahead=4, crossfade=2)
    seen, emitted = 0, []

    def gen():
        nonlocal seen
        for c in codes:
            seen += 1
            yield np.array([c])

    for chunk in tiny_codec.decode_stream(gen(), st):
        emitted.append((seen, len(chunk)))
    first_seen, first_len = emitted[0]
    assert first_seen == st.chunk + st.lookahead and first_len == 320 * st.chunk
    assert len(emitted) > 5


def test_full_context_equals_full_decode(tiny_codec, codes):
    st = StreamSettings(chunk=10, left_context=1000, lookahead=1000, crossfade=0)
    y = np.concatenate(_stream(tiny_codec, codes, [3], st))
    assert np.array_equal(y, tiny_codec.decode(codes)[0])


def test_more_context_is_closer_to_full_decode(tiny_codec, codes):
    ref = tiny_codec.decode(codes)[0]

    def err(st):
        return np.sum((np.concatenate(_stream(tiny_codec, codes, [5], st)) - ref) ** 2)

    small = err(StreamSettings(chunk=10, left_context=2, lookahead=2, crossfade=2))
    large = err(StreamSettings(chunk=10, left_context=60, lookahead=30, crossfade=2))
    assert large < small


@pytest.mark.parametrize("kw", [dict(chunk=0), dict(lookahead=-1), dict(crossfade=20, lookahead=5),
                                dict(left_context=1.5)])
def test_bad_settings(kw):
    with pytest.raises(InputError):
        StreamSettings(**kw)


def test_bad_chunk_is_named(tiny_codec):
    with pytest.raises(InputError, match="code chunk 1"):
        list(tiny_codec.decode_stream([np.array([1, 2]), np.array([70000])]))
