"""The one raised-cosine crossfader: fed in parts, it gives exactly the whole-piece join."""

import numpy as np

from llasa.audio.crossfade import Crossfader, blend, crossfade, crossfade_stream, fade_curves


def _split(x: np.ndarray, rng) -> list[np.ndarray]:
    cuts = sorted(rng.choice(np.arange(1, len(x)), size=min(5, len(x) - 1), replace=False))
    return np.split(x, cuts) if len(x) > 1 else [x]


def test_incremental_join_equals_whole_join_however_cut():
    rng = np.random.default_rng(0)
    for lengths in ([1000, 500, 1000], [1000, 30, 1000], [50, 2000], [0, 300, 0, 400], [700]):
        pieces = [rng.standard_normal(n).astype(np.float32) for n in lengths]
        whole = crossfade(pieces, 100)
        parts = list(crossfade_stream([_split(p, rng) if len(p) else [p] for p in pieces], 100))
        np.testing.assert_array_equal(np.concatenate(parts) if parts else np.zeros(0), whole)


def test_join_length_and_smoothness():
    a, b = np.ones(1000, np.float32), np.full(500, 2.0, np.float32)
    j = crossfade([a, b, a], 100)
    assert len(j) == 2500 - 200
    assert np.all(np.diff(j[900:1000]) > 0)
    out, inn = fade_curves(64)
    np.testing.assert_allclose(out + inn, 1.0, atol=1e-6)


def test_fader_holds_only_the_overlap():
    f = Crossfader(100)
    assert len(f.feed(np.ones(1000, np.float32))) == 900  # the tail waits for the next piece
    assert len(f.end_piece()) == 0
    assert len(f.feed(np.ones(50, np.float32))) == 0  # the new head is still being collected
    out = f.feed(np.ones(500, np.float32))
    assert len(out) == 550 - 100 and np.allclose(out, 1.0)  # equal signals pass unchanged
    assert len(f.flush()) == 100
    f = Crossfader(100)
    f.last = True  # nothing follows: nothing is held back
    assert len(f.feed(np.ones(1000, np.float32))) == 1000 and len(f.flush()) == 0


def test_blend_is_the_codec_window_join():
    tail, head = np.zeros(10, np.float32), np.ones(30, np.float32)
    mixed = blend(tail, head)
    assert len(mixed) == 30 and mixed[0] < 0.05 and mixed[9] > 0.95 and mixed[10:].min() == 1
