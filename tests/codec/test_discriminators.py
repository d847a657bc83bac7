"""MPD + multi-resolution spectral discriminators: structure, shapes, gradients, validation."""

import pytest
import torch

from llasa._common.errors import InputError
from llasa.codec.discriminators import (CodecDiscriminator, DiscriminatorSettings,
                                        PeriodDiscriminator, SpectralDiscriminator, official, tiny)


def test_official_sizes_match_the_recipe():
    s = official()
    assert s.periods == (2, 3, 5, 7, 11)
    assert s.spec_n_ffts == (78, 126, 206, 334, 542, 876, 1418, 2296)
    assert s.hops == (39, 63, 103, 167, 271, 438, 709, 1148)  # half the FFT size
    assert (s.mpd_channels, s.mpd_channel_mult, s.mpd_max_channels) == (16, 4, 512)
    assert (s.spec_channels, s.spec_max_channels, s.spec_kernel, s.spec_downsample) == (
        32, 512, (5, 3), (2, 2, 2))
    d = CodecDiscriminator(s)
    widths = [c.weight.shape[0] for c in d.mpd.discriminators[0].convs]
    assert widths == [16, 64, 256, 512, 512]  # ×4 per layer, capped at 512


def test_one_output_per_subdiscriminator_with_features(speech):
    s = tiny()
    d = CodecDiscriminator(s)
    wav = torch.from_numpy(speech("Discriminators look at real speech.")[:8000]).view(1, 1, -1)
    out = d(torch.cat([wav, wav * 0.5]))
    assert len(out) == len(s.periods) + len(s.spec_n_ffts) == 13
    for i, (logits, feats) in enumerate(out):
        assert logits.shape[0] == 2 and torch.isfinite(logits).all()
        assert feats[-1] is logits and len(feats) >= 3
        if i < len(s.periods):  # period axis kept last: [b, 1, l/p, p]
            assert logits.shape[-1] == s.periods[i]
    # different inputs give different scores (the networks see the signal)
    assert not torch.allclose(out[0][0][0], out[0][0][1])


def test_period_discriminator_pads_odd_lengths():
    d = PeriodDiscriminator(period=7, channels=2, mult=2, max_channels=4)
    for n in (700, 701, 5):  # divisible, not divisible, shorter than the reflect pad
        logits, _ = d(torch.randn(1, 1, n))
        assert logits.shape[-1] == 7


def test_spectral_discriminator_is_finite_and_differentiable_at_silence():
    """An untrained generator can output exact zeros; the gradient must stay finite."""
    d = SpectralDiscriminator(n_fft=126, hop=63, channels=4, max_channels=8)
    wav = torch.zeros(1, 1, 4000, requires_grad=True)
    logits, _ = d(wav)
    logits.square().mean().backward()
    assert torch.isfinite(wav.grad).all()


def test_gradients_reach_every_parameter():
    d = CodecDiscriminator(tiny())
    wav = torch.randn(1, 1, 6000, requires_grad=True)
    sum(l.square().mean() for l, _ in d(wav)).backward()
    missing = [n for n, p in d.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert not missing, missing
    assert wav.grad.abs().sum() > 0


@pytest.mark.parametrize("kwargs, match", [
    ({"periods": (0, 2)}, "periods"),
    ({"spec_hops": (1, 2)}, "one hop per FFT size"),
    ({"periods": (), "spec_n_ffts": ()}, "at least one"),
    ({"spec_kernel": (5,)}, "spec_kernel"),
    ({"mpd_channels": 0}, "mpd_channels"),
])
def test_bad_settings_are_input_errors(kwargs, match):
    with pytest.raises(InputError, match=match):
        DiscriminatorSettings(**kwargs)


def test_rejects_non_waveform_input():
    with pytest.raises(InputError, match=r"\[b, 1, l\]"):
        CodecDiscriminator(tiny())(torch.randn(1, 2, 100))
