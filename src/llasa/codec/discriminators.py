"""GAN discriminators for codec training: multi-period (MPD) and multi-resolution spectral.

Used only by the training recipe (``llasa.training.codec``); inference never builds them.
Notation: ``b`` batch, ``l`` samples, ``p`` period, ``f`` frequency bins, ``t`` frames,
``c`` channels.

Every discriminator returns a list with one ``(logits, features)`` pair per sub-discriminator:
``logits`` is the last layer's map (any shape ``[b, ...]``), ``features`` the list of every
intermediate activation (used by the feature-matching loss), logits included last.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from .._common.errors import InputError

DiscOutput = tuple[torch.Tensor, list[torch.Tensor]]

_LRELU = 0.1  # slope used by HiFiGAN-style discriminators


@dataclass
class DiscriminatorSettings:
    """Sizes of both discriminators. Defaults: the X-codec2 recipe (docs/training_codec.md).

    Attributes:
        periods: MPD periods; one 2-D sub-discriminator per period.
        mpd_channels: channels of the first MPD conv.
        mpd_channel_mult: channel growth per MPD layer.
        mpd_max_channels: cap on MPD channels.
        mpd_layers: number of strided MPD convs.
        spec_n_ffts: FFT sizes of the spectral sub-discriminators (Hann window of that size).
        spec_hops: hop per FFT size; ``None`` means half the FFT size (the recipe's choice).
        spec_channels: channels of the first spectral conv (doubled per downsampling stage).
        spec_max_channels: cap on spectral channels.
        spec_kernel: (frequency, time) kernel of the spectral convs.
        spec_downsample: frequency strides of the spectral stages.
    """

    periods: tuple[int, ...] = (2, 3, 5, 7, 11)
    mpd_channels: int = 16
    mpd_channel_mult: int = 4
    mpd_max_channels: int = 512
    mpd_layers: int = 4
    spec_n_ffts: tuple[int, ...] = (78, 126, 206, 334, 542, 876, 1418, 2296)
    spec_hops: tuple[int, ...] | None = None
    spec_channels: int = 32
    spec_max_channels: int = 512
    spec_kernel: tuple[int, int] = (5, 3)
    spec_downsample: tuple[int, ...] = (2, 2, 2)

    def __post_init__(self):
        self.periods = tuple(int(p) for p in self.periods)
        self.spec_n_ffts = tuple(int(n) for n in self.spec_n_ffts)
        self.spec_kernel = tuple(int(k) for k in self.spec_kernel)
        self.spec_downsample = tuple(int(s) for s in self.spec_downsample)
        if self.spec_hops is not None:
            self.spec_hops = tuple(int(h) for h in self.spec_hops)
            if len(self.spec_hops) != len(self.spec_n_ffts):
                raise InputError(f"DiscriminatorSettings: {len(self.spec_hops)} spec_hops for "
                                 f"{len(self.spec_n_ffts)} spec_n_ffts; give one hop per FFT size")
            if any(h < 1 for h in self.spec_hops):
                raise InputError("DiscriminatorSettings: spec_hops must be >= 1")
        if not self.periods and not self.spec_n_ffts:
            raise InputError("DiscriminatorSettings: need at least one period or one FFT size")
        if any(p < 1 for p in self.periods):
            raise InputError(f"DiscriminatorSettings: periods must be >= 1, got {self.periods}")
        if any(n < 4 for n in self.spec_n_ffts):
            raise InputError(f"DiscriminatorSettings: FFT sizes must be >= 4, got {self.spec_n_ffts}")
        for name in ("mpd_channels", "mpd_channel_mult", "mpd_max_channels", "mpd_layers",
                     "spec_channels", "spec_max_channels"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"DiscriminatorSettings: {name} must be >= 1")
        if len(self.spec_kernel) != 2 or min(self.spec_kernel) < 1:
            raise InputError("DiscriminatorSettings: spec_kernel must be two positive ints "
                             "(frequency, time)")
        if any(s < 1 for s in self.spec_downsample):
            raise InputError("DiscriminatorSettings: spec_downsample strides must be >= 1")

    @property
    def hops(self) -> tuple[int, ...]:
        return self.spec_hops if self.spec_hops is not None else tuple(
            n // 2 for n in self.spec_n_ffts)


def official() -> DiscriminatorSettings:
    """The X-codec2 recipe sizes."""
    return DiscriminatorSettings()


def tiny() -> DiscriminatorSettings:
    """Same structure (all periods, all FFT sizes), narrow channels: trains in seconds on CPU."""
    return DiscriminatorSettings(mpd_channels=4, mpd_channel_mult=2, mpd_max_channels=16,
                                 spec_channels=4, spec_max_channels=16)


def _conv_stack(convs: nn.ModuleList, post: nn.Module, x: torch.Tensor) -> DiscOutput:
    """Leaky-ReLU conv stack + output conv; every activation is kept for feature matching."""
    feats = []
    for conv in convs:
        x = F.leaky_relu(conv(x), _LRELU)
        feats.append(x)
    x = post(x)
    feats.append(x)
    return x, feats


class PeriodDiscriminator(nn.Module):
    """Folds the waveform into ``[b, 1, l/p, p]`` and runs strided 2-D convs along time."""

    def __init__(self, period: int, channels: int = 16, mult: int = 4, max_channels: int = 512,
                 layers: int = 4, kernel: int = 5, stride: int = 3):
        super().__init__()
        self.period = period
        pad = (kernel - 1) // 2
        convs, c_in = [], 1
        for i in range(layers):
            c_out = min(channels * mult**i, max_channels)
            convs.append(weight_norm(nn.Conv2d(c_in, c_out, (kernel, 1), (stride, 1), (pad, 0))))
            c_in = c_out
        convs.append(weight_norm(nn.Conv2d(c_in, c_in, (kernel, 1), 1, (pad, 0))))
        self.convs = nn.ModuleList(convs)
        self.post = weight_norm(nn.Conv2d(c_in, 1, (3, 1), 1, (1, 0)))

    def forward(self, wav: torch.Tensor) -> DiscOutput:
        """Args: wav [b, 1, l]. Returns: logits [b, 1, t, p] and the feature list."""
        b, c, n = wav.shape
        if n % self.period:
            # reflect needs n > pad; constant padding is a safe fallback for very short input
            pad = self.period - n % self.period
            mode = "reflect" if n > pad else "constant"
            wav = F.pad(wav, (0, pad), mode=mode)
            n += pad
        x = wav.view(b, c, n // self.period, self.period)  # [b, 1, l/p, p]
        return _conv_stack(self.convs, self.post, x)


class MultiPeriodDiscriminator(nn.Module):
    """One :class:`PeriodDiscriminator` per period (HiFiGAN's MPD)."""

    def __init__(self, settings: DiscriminatorSettings):
        super().__init__()
        s = settings
        self.discriminators = nn.ModuleList(
            PeriodDiscriminator(p, s.mpd_channels, s.mpd_channel_mult, s.mpd_max_channels,
                                s.mpd_layers) for p in s.periods)

    def forward(self, wav: torch.Tensor) -> list[DiscOutput]:
        return [d(wav) for d in self.discriminators]


class SpectralDiscriminator(nn.Module):
    """2-D convs over a log-magnitude STFT ``[b, 1, f, t]``, downsampling along frequency."""

    def __init__(self, n_fft: int, hop: int, channels: int = 32, max_channels: int = 512,
                 kernel: tuple[int, int] = (5, 3), downsample: tuple[int, ...] = (2, 2, 2)):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        kf, kt = kernel
        pad = (kf // 2, kt // 2)
        convs = [weight_norm(nn.Conv2d(1, channels, kernel, 1, pad))]
        c_in = channels
        for s in downsample:
            c_out = min(c_in * 2, max_channels)
            convs.append(weight_norm(nn.Conv2d(c_in, c_out, kernel, (s, 1), pad)))
            c_in = c_out
        convs.append(weight_norm(nn.Conv2d(c_in, c_in, kernel, 1, pad)))
        self.convs = nn.ModuleList(convs)
        self.post = weight_norm(nn.Conv2d(c_in, 1, (3, 3), 1, (1, 1)))

    def spectrogram(self, wav: torch.Tensor) -> torch.Tensor:
        """wav [b, 1, l] → log(1 + |STFT|) [b, 1, f, t], computed in fp32 (stft needs it)."""
        x = wav.squeeze(1).float()
        spec = torch.stft(x, self.n_fft, self.hop, window=self.window, center=True,
                          pad_mode="reflect" if x.shape[-1] > self.n_fft // 2 else "constant",
                          return_complex=True)
        # |z| via sqrt(re² + im² + eps): torch's complex abs has an unbounded gradient at 0
        # (silence, or an untrained generator's output); log compression tames the dynamic range
        mag = torch.sqrt(torch.view_as_real(spec).pow(2).sum(-1) + 1e-9)
        return torch.log1p(mag).unsqueeze(1)

    def forward(self, wav: torch.Tensor) -> DiscOutput:
        """Args: wav [b, 1, l]. Returns: logits [b, 1, f', t] and the feature list."""
        x = self.spectrogram(wav).to(self.post.weight.dtype)
        return _conv_stack(self.convs, self.post, x)


class MultiResolutionSpectralDiscriminator(nn.Module):
    """One :class:`SpectralDiscriminator` per FFT size."""

    def __init__(self, settings: DiscriminatorSettings):
        super().__init__()
        s = settings
        self.discriminators = nn.ModuleList(
            SpectralDiscriminator(n, h, s.spec_channels, s.spec_max_channels, s.spec_kernel,
                                  s.spec_downsample) for n, h in zip(s.spec_n_ffts, s.hops))

    def forward(self, wav: torch.Tensor) -> list[DiscOutput]:
        return [d(wav) for d in self.discriminators]


class CodecDiscriminator(nn.Module):
    """Both discriminators behind one call (one optimizer covers all their parameters)."""

    def __init__(self, settings: DiscriminatorSettings | None = None):
        super().__init__()
        self.settings = settings or DiscriminatorSettings()
        self.mpd = MultiPeriodDiscriminator(self.settings)
        self.mrsd = MultiResolutionSpectralDiscriminator(self.settings)

    def forward(self, wav: torch.Tensor) -> list[DiscOutput]:
        """Args: wav [b, 1, l] (or [b, l]). Returns: one (logits, features) per sub-discriminator,
        MPD first (in ``periods`` order), then spectral (in ``spec_n_ffts`` order)."""
        if wav.dim() == 2:
            wav = wav.unsqueeze(1)
        if wav.dim() != 3 or wav.shape[1] != 1:
            raise InputError(f"discriminator expects a waveform [b, 1, l], got {tuple(wav.shape)}")
        return self.mpd(wav) + self.mrsd(wav)
