"""The X-codec2 decoder on ONNX Runtime + numpy: codes → 16 kHz audio without torch.

Notation: ``b`` batch, ``t`` codes, ``f`` = n_fft + 2, ``n`` = 320 · t samples.

The graph (made by :mod:`llasa.codec.onnx_export`) ends at the ISTFT head's linear output;
:func:`istft` finishes in numpy exactly as transformers' ``Xcodec2ISTFTHead`` does
(magnitude ``exp`` clamped at 100, irfft, Hann window, overlap-add with "same" padding,
division by the window envelope). :class:`OnnxCodecDecoder` offers the decode side of
:class:`~llasa.codec.model.Codec` (``decode``, ``check_codes``, ``sample_rate``,
``hop_length``, ``frame_rate``, ``codebook_size``), so the TTS pipeline takes either.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._common.errors import InputError
from .._common.ort import session
from .config import HOP_LENGTH, SAMPLE_RATE


def istft(spec: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """[b, t, n_fft + 2] log-magnitudes ‖ phases → float32 audio [b, hop · t]."""
    b, t, _ = spec.shape
    mag = np.minimum(np.exp(spec[..., : n_fft // 2 + 1].astype(np.float64)), 1e2)
    phase = spec[..., n_fft // 2 + 1:].astype(np.float64)
    frames = np.fft.irfft(mag * np.exp(1j * phase), n=n_fft, axis=-1)  # [b, t, n_fft]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    frames *= window
    pad = (n_fft - hop) // 2
    size = (t - 1) * hop + n_fft
    k = -(-n_fft // hop)  # hop-sized slices per frame
    padded = np.zeros((b, t, k * hop))
    padded[..., :n_fft] = frames
    win2 = np.zeros(k * hop)
    win2[:n_fft] = window ** 2
    out = np.zeros((b, (t + k - 1) * hop))
    env = np.zeros((t + k - 1) * hop)
    for r in range(k):  # overlap-add: slice r of every frame lands at r·hop + j·hop
        out[:, r * hop:r * hop + t * hop] += padded[..., r * hop:(r + 1) * hop].reshape(b, -1)
        env[r * hop:r * hop + t * hop] += np.tile(win2[r * hop:(r + 1) * hop], t)
    audio = out[:, pad:size - pad] / np.maximum(env[pad:size - pad], 1e-11)
    return audio.astype(np.float32)


@dataclass
class OnnxCodecConfig:
    """What the exported decoder needs besides its graph (the manifest's ``codec`` section)."""

    file: str = "codec_decoder.onnx"
    sample_rate: int = SAMPLE_RATE
    hop_length: int = HOP_LENGTH
    n_fft: int = 1280
    codebook_size: int = 65536


class OnnxCodecDecoder:
    """Decode-only codec on ONNX Runtime (see the module docstring).

    Args:
        directory: the export folder holding ``config.file``.
        config: its manifest section.
        threads: intra-op threads (the decoder's convolutions gain from two).
    """

    decode_only = True
    device = "cpu"

    def __init__(self, directory: str | Path, config: OnnxCodecConfig, threads: int = 2):
        self.config = config
        self.sample_rate = int(config.sample_rate)
        self.hop_length = int(config.hop_length)
        self.frame_rate = self.sample_rate // self.hop_length
        self.codebook_size = int(config.codebook_size)
        self.session = session(Path(directory) / config.file, threads=threads)

    def encode(self, *_args, **_kw):
        raise InputError("the onnx engine decodes only; build voices with the torch engine "
                         "(--engine torch, or Llasa.from_pretrained)")

    def decode_stream(self, *_args, **_kw):
        raise InputError("the onnx engine does not stream; use the torch engine "
                         "(--engine torch, or Llasa.from_pretrained)")

    def decode(self, codes: np.ndarray | list[np.ndarray]) -> list[np.ndarray]:
        """Code arrays [t_i] → float32 waveforms [320 · t_i] (equal lengths run as a batch)."""
        if isinstance(codes, np.ndarray) and codes.ndim == 1:
            codes = [codes]
        if not isinstance(codes, (list, tuple)) or not codes:
            raise InputError("expected a 1-D numpy code array or a non-empty list of them")
        arrays = [self.check_codes(c, f"codes {i}") for i, c in enumerate(codes)]
        out: list[np.ndarray | None] = [None] * len(arrays)
        by_len = defaultdict(list)
        for i, c in enumerate(arrays):
            by_len[len(c)].append(i)
        for _, idx in sorted(by_len.items()):
            wav = self.decode_batch(np.stack([arrays[i] for i in idx]))
            for j, i in enumerate(idx):
                out[i] = wav[j]
        return out  # type: ignore[return-value]

    def decode_batch(self, codes: np.ndarray) -> np.ndarray:
        """Codes [b, t] (int64) → audio [b, 320 · t] (float32), no input checks."""
        (spec,) = self.session.run(None, {"codes": np.asarray(codes, np.int64)})
        return istft(spec, int(self.config.n_fft), self.hop_length)

    def check_codes(self, codes, name: str = "codes") -> np.ndarray:
        """Validate one code array: 1-D integers in [0, codebook_size). Returns int64 [t]."""
        arr = np.asarray(codes)
        if arr.ndim == 2 and 1 in arr.shape:
            arr = arr.reshape(-1)
        if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
            raise InputError(f"{name}: expected a non-empty 1-D integer array of codes, got "
                             f"{arr.dtype} {arr.shape}")
        if int(arr.min()) < 0 or int(arr.max()) >= self.codebook_size:
            raise InputError(f"{name}: codes must lie in [0, {self.codebook_size})")
        return arr.astype(np.int64)

    def warm_up(self) -> None:
        """One tiny decode: ORT's first run allocates and plans (tens of ms)."""
        self.decode_batch(np.zeros((1, 4), np.int64))
