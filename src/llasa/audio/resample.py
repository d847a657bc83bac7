"""Mono downmix and resampling with soxr (high quality, no torchaudio)."""

from __future__ import annotations

import numpy as np
import soxr


def to_mono(wav: np.ndarray) -> np.ndarray:
    """[n] or [n, channels] → [n] float32 (channel mean)."""
    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim == 2:
        wav = wav.mean(axis=1)
    return wav


def resample(wav: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resample a mono [n] float waveform from ``sr_in`` to ``sr_out`` Hz."""
    wav = np.asarray(wav, dtype=np.float32)
    if sr_in == sr_out or wav.size == 0:
        return wav
    return soxr.resample(wav, sr_in, sr_out, quality="HQ").astype(np.float32)
