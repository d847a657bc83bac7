"""Codec training losses against independent references (librosa, hand-computed values)."""

import librosa
import numpy as np
import pytest
import torch

from llasa._common.errors import InputError
from llasa.codec.losses import (MEL_BINS, MEL_WINDOWS, MelSpectrogram, MultiScaleMelLoss,
                                discriminator_loss, feature_matching_loss,
                                generator_adversarial_loss, semantic_loss)


@pytest.mark.parametrize("n_fft, n_mels", [(64, 10), (512, 80), (2048, 320)])
def test_mel_matches_librosa(speech, n_fft, n_mels):
    wav = speech("Mel spectrograms must match librosa.")[:12000]
    ours = MelSpectrogram(16000, n_fft, n_mels)(torch.from_numpy(wav)[None])[0].numpy()
    ref = librosa.feature.melspectrogram(y=wav, sr=16000, n_fft=n_fft, hop_length=n_fft // 4,
                                         n_mels=n_mels, power=1.0, center=True,
                                         pad_mode="reflect", htk=False, norm="slaney")
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-3, atol=1e-5)


def test_recipe_scales():
    assert MEL_WINDOWS == (32, 64, 128, 256, 512, 1024, 2048)
    assert MEL_BINS == (5, 10, 20, 40, 80, 160, 320)
    loss = MultiScaleMelLoss()
    assert [m.hop_length for m in loss.mels] == [w // 4 for w in MEL_WINDOWS]


def test_mel_loss_is_zero_for_identity_and_grows_with_distortion(speech):
    y = torch.from_numpy(speech("A distortion ladder.")[:16000]).view(1, 1, -1)
    loss = MultiScaleMelLoss()
    assert loss(y, y).item() == 0.0
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(y.shape, generator=g)
    values = [loss(y + a * noise, y).item() for a in (0.001, 0.01, 0.1)]
    assert values[0] < values[1] < values[2], values
    # hand-computed single-scale value: L1 of clamped log10 mels
    one = MultiScaleMelLoss(windows=(256,), n_mels=(40,))
    y_hat = 0.5 * y
    m = MelSpectrogram(16000, 256, 40)
    ref = (m(y_hat).clamp(min=1e-5).log10() - m(y).clamp(min=1e-5).log10()).abs().mean()
    assert torch.allclose(one(y_hat, y), ref)


def test_mel_loss_gradient_flows_to_the_prediction(speech):
    y = torch.from_numpy(speech("Gradient check.")[:8000]).view(1, 1, -1)
    y_hat = (y * 0.3).requires_grad_(True)
    MultiScaleMelLoss()(y_hat, y).backward()
    assert torch.isfinite(y_hat.grad).all() and y_hat.grad.abs().sum() > 0


def _outs(values):
    return [(torch.full((2, 3), v), [torch.full((2, 4), v), torch.full((2, 3), v)])
            for v in values]


def test_lsgan_values():
    real, fake = _outs([1.0, 1.0]), _outs([0.0, 0.0])
    assert discriminator_loss(real, fake).item() == 0.0  # perfect discriminator
    assert generator_adversarial_loss(fake).item() == pytest.approx(2.0)  # (1-0)^2 × 2 discs
    assert generator_adversarial_loss(real).item() == 0.0
    # real 0.5, fake 0.25: (0.5)^2 + 0.25^2 per sub-discriminator
    assert discriminator_loss(_outs([0.5]), _outs([0.25])).item() == pytest.approx(0.3125)


def test_feature_matching_sums_l1_and_detaches_real():
    real = [(torch.zeros(1), [torch.zeros(3, requires_grad=True), torch.ones(2)])]
    fake_feat = torch.full((3,), 2.0, requires_grad=True)
    fake = [(torch.zeros(1), [fake_feat, torch.ones(2) * 4])]
    loss = feature_matching_loss(real, fake)
    assert loss.item() == pytest.approx(2.0 + 3.0)
    loss.backward()
    assert real[0][1][0].grad is None and fake_feat.grad is not None


def test_semantic_mse():
    pred = torch.ones(1, 4, 5, requires_grad=True)
    target = torch.zeros(1, 4, 5, requires_grad=True)
    loss = semantic_loss(pred, target)
    assert loss.item() == 1.0
    loss.backward()
    assert target.grad is None


def test_mismatches_are_input_errors():
    with pytest.raises(InputError, match="shapes differ"):
        MultiScaleMelLoss()(torch.zeros(1, 1, 100), torch.zeros(1, 1, 120))
    with pytest.raises(InputError, match="count"):
        discriminator_loss(_outs([1.0]), _outs([0.0, 0.0]))
    with pytest.raises(InputError, match="shapes differ"):
        semantic_loss(torch.zeros(1, 2, 3), torch.zeros(1, 3, 3))
    with pytest.raises(InputError, match="one n_mels per window"):
        MultiScaleMelLoss(windows=(32, 64), n_mels=(5,))


def test_fsq_bound_penalty_is_zero_inside_the_margin_and_grows_outside():
    import torch

    from llasa.codec.losses import fsq_bound_penalty

    inside = torch.tensor([[-1.5, 0.0, 1.2]])
    assert fsq_bound_penalty(inside, 1.5).item() == 0.0
    outside = torch.tensor([[3.5, -0.5, -2.5]], requires_grad=True)
    pen = fsq_bound_penalty(outside, 1.5)
    assert abs(pen.item() - (2.0 ** 2 + 0 + 1.0 ** 2) / 3) < 1e-6
    pen.backward()
    assert outside.grad[0, 0] > 0 and outside.grad[0, 2] < 0 and outside.grad[0, 1] == 0
