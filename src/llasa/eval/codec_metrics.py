"""Reconstruction metrics for codec evaluation: PESQ (wide/narrow band), STOI, log-mel distance.

Thin wrappers over the reference implementations (``pesq`` = ITU-T P.862, ``pystoi``), with the
length alignment and error handling an evaluation loop needs. All inputs are mono float [n] at
16 kHz; the reference comes first, as in both libraries.
"""

from __future__ import annotations

import numpy as np

from .._common.errors import InputError
from ..audio import SAMPLE_RATE



def _pair(ref: np.ndarray, deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate and crop both signals to the shorter length.

    A codec output can differ from its input by up to one hop (X-codec2 pads to a multiple of 320
    samples), so comparing the common prefix is the convention of codec papers.
    """
    ref = np.asarray(ref, dtype=np.float64).reshape(-1)
    deg = np.asarray(deg, dtype=np.float64).reshape(-1)
    for name, x in (("reference", ref), ("degraded", deg)):
        if x.size == 0:
            raise InputError(f"{name} audio is empty")
        if not np.isfinite(x).all():
            raise InputError(f"{name} audio contains NaN or Inf")
    n = min(ref.size, deg.size)
    return ref[:n], deg[:n]


def pesq_score(ref: np.ndarray, deg: np.ndarray, mode: str = "wb",
               sr: int = SAMPLE_RATE) -> float:
    """PESQ of ``deg`` against ``ref`` (P.862.2 wide band "wb" or P.862 narrow band "nb").

    Args:
        ref, deg: mono waveforms [n] at ``sr`` (8000 or 16000 Hz; "wb" needs 16000).
    Returns:
        MOS-LQO (about 1.0–4.64 for wb, 1.0–4.55 for nb), or NaN when PESQ finds no speech
        (e.g. silence), so one bad file does not abort a whole evaluation.
    """
    from pesq import PesqError, pesq

    if mode not in ("wb", "nb"):
        raise InputError(f"PESQ mode must be 'wb' or 'nb', got {mode!r}")
    if sr not in (8000, 16000) or (mode == "wb" and sr != 16000):
        raise InputError(f"PESQ-{mode.upper()} needs 16 kHz audio (nb also takes 8 kHz), got {sr}")
    ref, deg = _pair(ref, deg)
    if ref.size < sr // 4:
        raise InputError(f"PESQ needs at least 0.25 s of audio, got {ref.size / sr:.3f} s")
    value = pesq(sr, ref, deg, mode, on_error=PesqError.RETURN_VALUES)
    return float("nan") if value < 0 else float(value)


def stoi_score(ref: np.ndarray, deg: np.ndarray, sr: int = SAMPLE_RATE,
               extended: bool = False) -> float:
    """Short-time objective intelligibility (0–1; ESTOI when ``extended``)."""
    from pystoi import stoi

    ref, deg = _pair(ref, deg)
    return float(stoi(ref, deg, sr, extended=extended))


def mel_distance(ref: np.ndarray, deg: np.ndarray, sr: int = SAMPLE_RATE, n_mels: int = 80,
                 n_fft: int = 1024, hop: int = 256) -> float:
    """Mean absolute difference of log10 mel spectrograms (lower is better; 0 for equal audio)."""
    import librosa

    ref, deg = _pair(ref, deg)
    mels = [librosa.feature.melspectrogram(y=x.astype(np.float32), sr=sr, n_fft=n_fft,
                                           hop_length=hop, n_mels=n_mels, power=1.0)
            for x in (ref, deg)]
    # Clamp before log: silent frames would give -inf.
    a, b = (np.log10(np.maximum(m, 1e-5)) for m in mels)
    return float(np.mean(np.abs(a - b)))


def reconstruction_metrics(ref: np.ndarray, deg: np.ndarray,
                           sr: int = SAMPLE_RATE) -> dict[str, float]:
    """All signal-level metrics at once: ``pesq_wb``, ``pesq_nb``, ``stoi``, ``mel_l1``."""
    return {"pesq_wb": pesq_score(ref, deg, "wb", sr), "pesq_nb": pesq_score(ref, deg, "nb", sr),
            "stoi": stoi_score(ref, deg, sr), "mel_l1": mel_distance(ref, deg, sr)}
