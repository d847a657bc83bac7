"""Push-style streaming windows (llasa.codec.stream_windows): the same audio as
decode_stream, with several streams' windows decoded in one batch."""

import numpy as np
import pytest
import torch

from llasa.codec.stream_windows import StreamWindows, decode_windows
from llasa.codec.streaming import StreamSettings

ST = StreamSettings(chunk=10, left_context=20, lookahead=5, crossfade=3)


@pytest.fixture(autouse=True)
def _one_thread():  # tiny decodes: thread hand-offs on a shared machine cost more than they give
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_batched_windows_equal_decode_stream_per_request(tiny_codec):
    rng = np.random.default_rng(0)
    codes = [rng.integers(0, tiny_codec.codebook_size, n) for n in (57, 33, 80)]
    refs = [np.concatenate(list(tiny_codec.decode_stream(
        [c[i:i + 7] for i in range(0, len(c), 7)], ST))) for c in codes]
    streams = [StreamWindows(tiny_codec, ST) for _ in codes]
    outs = [[] for _ in codes]
    batched = 0
    for t in range(0, 80, 3):  # codes of all streams arrive together, 3 at a time
        for sw, c in zip(streams, codes):
            sw.push(c[t:t + 3], final=t + 3 >= len(c))
        while True:
            ready = [(i, w) for i, sw in enumerate(streams) if (w := sw.window()) is not None]
            if not ready:
                break
            batched = max(batched, len(ready))
            for (i, _), a in zip(ready, decode_windows(tiny_codec, [w for _, w in ready])):
                outs[i].append(streams[i].accept(a))
    assert batched == 3 and all(sw.done for sw in streams)
    for o, r in zip(outs, refs):
        np.testing.assert_allclose(np.concatenate(o), r, atol=1e-5)


def test_window_protocol_and_bad_codes(tiny_codec):
    sw = StreamWindows(tiny_codec, ST)
    assert sw.window() is None  # nothing yet
    sw.push(np.arange(15))
    w = sw.window()
    assert len(w) == 15
    with pytest.raises(RuntimeError, match="accept"):
        sw.window()
    seg = sw.accept(decode_windows(tiny_codec, [w])[0])
    assert len(seg) == 10 * 320
    with pytest.raises(Exception, match="codes"):
        sw.push(np.array([-1]))


def test_short_first_window_after_context(tiny_codec):
    rng = np.random.default_rng(1)
    ctx, new = rng.integers(0, 1000, 12), rng.integers(0, 1000, 40)
    sw = StreamWindows(tiny_codec, ST, context=len(ctx), first_chunk=4)
    sw.push(ctx)
    out, first_at = [], None
    for i, c in enumerate(new):
        sw.push([c], final=i == len(new) - 1)
        while (w := sw.window()) is not None:
            out.append(sw.accept(decode_windows(tiny_codec, [w])[0]))
            first_at = first_at or i + 1
    assert first_at == 4 + ST.crossfade  # not chunk + lookahead (15)
    assert sum(len(o) for o in out) == 320 * len(new)  # the context is never emitted
    assert len(out[0]) == 4 * 320
    with pytest.raises(Exception, match="crossfade"):
        StreamWindows(tiny_codec, ST, first_chunk=2)
