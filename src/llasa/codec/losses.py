"""Codec training losses: multi-scale mel L1, LSGAN adversarial, feature matching, semantic MSE.

Notation: ``b`` batch, ``l`` samples, ``m`` mel bins, ``t`` frames. Reductions follow the common
GAN-vocoder convention (HiFiGAN / DAC): each term is a mean over its tensor, summed over scales,
sub-discriminators and layers; the recipe's weights are applied by the trainer.
"""

from __future__ import annotations

from collections.abc import Sequence

import librosa
import torch
import torch.nn.functional as F
from torch import nn

from .._common.errors import InputError
from .config import SAMPLE_RATE
from .discriminators import DiscOutput

# X-codec2 recipe (docs/training_codec.md): window = n_fft, hop = window / 4, n_mels per scale
MEL_WINDOWS = (32, 64, 128, 256, 512, 1024, 2048)
MEL_BINS = (5, 10, 20, 40, 80, 160, 320)


class MelSpectrogram(nn.Module):
    """Magnitude mel spectrogram with librosa's Slaney filterbank and torch.stft.

    Matches ``librosa.feature.melspectrogram(..., power=power, center=True, pad_mode="reflect",
    htk=False, norm="slaney")`` (tested), but runs on tensors and backpropagates.
    """

    def __init__(self, sample_rate: int = SAMPLE_RATE, n_fft: int = 1024, n_mels: int = 80,
                 hop_length: int | None = None, power: float = 1.0,
                 f_min: float = 0.0, f_max: float | None = None):
        super().__init__()
        if n_fft < 2 or n_mels < 1:
            raise InputError(f"MelSpectrogram: need n_fft >= 2 and n_mels >= 1 (got {n_fft}, "
                             f"{n_mels})")
        self.n_fft, self.power = n_fft, power
        self.hop_length = hop_length or n_fft // 4
        fb = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=f_min,
                                 fmax=f_max, htk=False, norm="slaney")
        self.register_buffer("fb", torch.from_numpy(fb).float(), persistent=False)  # [m, f]
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Args: wav [b, l] or [b, 1, l]. Returns: mel [b, m, t] in fp32."""
        x = wav.reshape(-1, wav.shape[-1]).float()  # stft is not defined for half precision
        with torch.autocast(device_type=x.device.type, enabled=False):
            pad_mode = "reflect" if x.shape[-1] > self.n_fft // 2 else "constant"
            spec = torch.stft(x, self.n_fft, self.hop_length, window=self.window, center=True,
                              pad_mode=pad_mode, return_complex=True)
            # sqrt(re² + im² + eps): bounded gradient at exact silence, unlike complex abs
            mag = torch.sqrt(torch.view_as_real(spec).pow(2).sum(-1) + 1e-12)
            if self.power != 1.0:
                mag = mag.pow(self.power)
            return torch.matmul(self.fb, mag)  # [m, f] @ [b, f, t] → [b, m, t]


class MultiScaleMelLoss(nn.Module):
    """Sum over scales of L1 between log10 mel spectrograms (clamped at ``clamp_eps``)."""

    def __init__(self, sample_rate: int = SAMPLE_RATE, windows: Sequence[int] = MEL_WINDOWS,
                 n_mels: Sequence[int] = MEL_BINS, clamp_eps: float = 1e-5):
        super().__init__()
        if len(windows) != len(n_mels) or not windows:
            raise InputError(f"MultiScaleMelLoss: need one n_mels per window, got {len(windows)} "
                             f"windows and {len(n_mels)} n_mels")
        self.clamp_eps = clamp_eps
        self.mels = nn.ModuleList(MelSpectrogram(sample_rate, int(w), int(m))
                                  for w, m in zip(windows, n_mels))

    def forward(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Args: y_hat, y: waveforms [b, 1, l] of equal shape. Returns: scalar loss."""
        if y_hat.shape != y.shape:
            raise InputError(f"mel loss: shapes differ {tuple(y_hat.shape)} vs {tuple(y.shape)}")
        loss = y_hat.new_zeros((), dtype=torch.float32)
        for mel in self.mels:
            a = mel(y_hat).clamp(min=self.clamp_eps).log10()
            b = mel(y).clamp(min=self.clamp_eps).log10()
            loss = loss + F.l1_loss(a, b)
        return loss


def discriminator_loss(real: list[DiscOutput], fake: list[DiscOutput]) -> torch.Tensor:
    """LSGAN discriminator loss: real → 1, fake → 0, summed over sub-discriminators."""
    _check_pairs(real, fake)
    loss = 0.0
    for (r, _), (f, _) in zip(real, fake):
        loss = loss + torch.mean((1.0 - r.float()) ** 2) + torch.mean(f.float() ** 2)
    return loss


def generator_adversarial_loss(fake: list[DiscOutput]) -> torch.Tensor:
    """LSGAN generator loss: fake → 1, summed over sub-discriminators."""
    if not fake:
        raise InputError("adversarial loss: no discriminator outputs")
    return sum(torch.mean((1.0 - f.float()) ** 2) for f, _ in fake)


def feature_matching_loss(real: list[DiscOutput], fake: list[DiscOutput]) -> torch.Tensor:
    """L1 between the discriminator features of real and generated audio, summed over layers
    and sub-discriminators. Real features are detached: only the generator learns from this."""
    _check_pairs(real, fake)
    loss = 0.0
    for (_, fr), (_, ff) in zip(real, fake):
        if len(fr) != len(ff):
            raise InputError("feature matching: feature lists differ in length")
        for a, b in zip(fr, ff):
            loss = loss + F.l1_loss(b.float(), a.detach().float())
    return loss


def fsq_bound_penalty(z: torch.Tensor, margin: float = 1.5) -> torch.Tensor:
    """Mean squared excess of the FSQ inputs ``z`` (``quantizer.project_in`` output, [b, t, d])
    beyond ±``margin``.

    FSQ bounds its input with tanh; once ``|z|`` grows past ~2 the tanh saturates, the
    straight-through gradient vanishes and every frame rounds to the same code (seen when
    training a small codec from scratch: 1 distinct code per utterance within 100 steps).
    Zero inside the margin, so it does not bias a healthy codec.
    """
    return F.relu(z.float().abs() - margin).pow(2).mean()


def semantic_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE between predicted and target semantic features [b, c, t] (target is detached)."""
    if pred.shape != target.shape:
        raise InputError(f"semantic loss: shapes differ {tuple(pred.shape)} vs "
                         f"{tuple(target.shape)}")
    return F.mse_loss(pred.float(), target.detach().float())


def _check_pairs(real: list[DiscOutput], fake: list[DiscOutput]) -> None:
    if len(real) != len(fake) or not real:
        raise InputError(f"discriminator outputs differ in count ({len(real)} real, "
                         f"{len(fake)} fake) or are empty")
