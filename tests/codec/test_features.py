"""Encoder input preparation: official padding and w2v-BERT frame counts."""

import numpy as np
import pytest

from llasa.codec.features import num_tokens, pad_waveform, semantic_features


@pytest.mark.parametrize("n, t", [(1, 1), (319, 1), (320, 2), (321, 2), (16000, 51)])
def test_official_padding_adds_a_token_on_exact_multiples(n, t):
    assert num_tokens(n) == t
    padded = pad_waveform(np.ones(n, np.float32))
    assert len(padded) == 320 * t and padded[n:].sum() == 0


def test_features_batched_equal_single_and_count_frames(speech):
    a, b = pad_waveform(speech("One.")), pad_waveform(speech("Two words here, please."))
    feats, mask = semantic_features([a, b])
    assert feats.shape == (2, len(b) // 320, 160)
    assert mask.sum(1).tolist() == [len(a) // 320, len(b) // 320]
    single, _ = semantic_features([a])
    np.testing.assert_array_equal(feats[0, : len(a) // 320].numpy(), single[0].numpy())
    # normalised per utterance: each mel bin has zero mean over the (unstacked) fbank frames
    x = single[0].numpy()  # [t, 160] = two 80-bin frames side by side
    assert np.abs((x[:, :80].mean(0) + x[:, 80:].mean(0)) / 2).max() < 1e-3
