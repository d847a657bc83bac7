"""Read, validate and write audio. Every failure is an :class:`InputError` a user can act on."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf

from .._common.errors import InputError
from .._common.units import SAMPLE_RATE
from .resample import resample, to_mono

_WRITE_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}


@dataclass(frozen=True)
class AudioLimits:
    """Bounds applied to any audio we accept."""

    max_seconds: float = 600.0
    min_seconds: float = 0.02

    def __post_init__(self):
        if not (0 < self.min_seconds < self.max_seconds):
            raise InputError("AudioLimits: need 0 < min_seconds < max_seconds")


def validate_waveform(wav: np.ndarray, sr: int = SAMPLE_RATE, limits: AudioLimits = AudioLimits(),
                      name: str = "audio") -> np.ndarray:
    """Check a mono waveform [n]; return it as float32. Raises InputError on bad content."""
    wav = np.asarray(wav)
    if wav.ndim != 1:
        raise InputError(f"{name}: expected a mono waveform of shape [n], got shape {wav.shape}")
    if wav.size == 0:
        raise InputError(f"{name}: audio is empty (zero samples)")
    if not np.issubdtype(wav.dtype, np.floating):
        raise InputError(f"{name}: expected float samples, got {wav.dtype}")
    if not np.isfinite(wav).all():
        raise InputError(f"{name}: audio contains NaN or Inf samples")
    seconds = wav.size / sr
    if seconds > limits.max_seconds:
        raise InputError(f"{name}: audio is {seconds:.1f} s long, over the limit of "
                         f"{limits.max_seconds:g} s")
    if seconds < limits.min_seconds:
        raise InputError(f"{name}: audio is {seconds * 1000:.1f} ms long, under the minimum of "
                         f"{limits.min_seconds * 1000:g} ms")
    return wav.astype(np.float32, copy=False)


def load_audio(source: str | Path | bytes | BinaryIO, sr: int = SAMPLE_RATE,
               limits: AudioLimits = AudioLimits()) -> np.ndarray:
    """Load WAV/FLAC/OGG (path, bytes or file object), downmix to mono, resample to ``sr``.

    Returns:
        float32 waveform [n] at ``sr`` Hz.
    """
    name = str(source) if isinstance(source, (str, Path)) else "uploaded audio"
    if isinstance(source, (str, Path)):
        p = Path(source)
        if not p.exists():
            raise InputError(f"audio file not found: {p}")
        if p.is_dir():
            raise InputError(f"expected an audio file, got a directory: {p}")
        if p.stat().st_size == 0:
            raise InputError(f"audio file is empty (0 bytes): {p}")
    elif isinstance(source, (bytes, bytearray)):
        if len(source) == 0:
            raise InputError("uploaded audio is empty (0 bytes)")
        source = io.BytesIO(source)
    try:
        info = sf.info(source)
        if hasattr(source, "seek"):
            source.seek(0)
        # Refuse before decoding: a header claiming hours of audio should not be read into memory.
        if info.frames / max(info.samplerate, 1) > limits.max_seconds:
            raise InputError(f"{name}: audio is {info.frames / info.samplerate:.1f} s long, over "
                             f"the limit of {limits.max_seconds:g} s")
        wav, file_sr = sf.read(source, dtype="float32", always_2d=True)
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 - libsndfile reports many kinds of corruption
        why = re.sub(r"<[^<>]* at 0x[0-9a-fA-F]+>", "it", str(e))  # no object addresses
        raise InputError(f"cannot read audio from {name}: {why} "
                         "(supported: WAV, FLAC, OGG/Vorbis)") from None
    wav = to_mono(wav)
    wav = validate_waveform(wav, file_sr, limits, name)
    return resample(wav, file_sr, sr)


def save_audio(path: str | Path, wav: np.ndarray, sr: int = SAMPLE_RATE) -> Path:
    """Write a mono float waveform [n] as WAV (16-bit PCM), FLAC or OGG by file extension."""
    p = Path(path)
    fmt = _WRITE_FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise InputError(f"cannot write {p}: unsupported extension {p.suffix!r}; "
                         f"use one of {sorted(_WRITE_FORMATS)}")
    wav = np.asarray(wav, dtype=np.float32).reshape(-1)
    if not np.isfinite(wav).all():
        raise InputError(f"refusing to write {p}: waveform contains NaN or Inf")
    if p.parent and not p.parent.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
    subtype = "PCM_16" if fmt in ("WAV", "FLAC") else None
    sf.write(str(p), np.clip(wav, -1.0, 1.0), sr, format=fmt, subtype=subtype)
    return p


class WavAppender:
    """A 16-bit mono WAV written chunk by chunk whose header is valid after every ``write``.

    libsndfile writes the sizes only on close, so a killed ``--stream`` run used to leave a
    header saying zero samples. Here both RIFF sizes are patched after each chunk: a process
    killed at any point leaves a file whose header matches the samples written so far.
    Samples are scaled as ``save_audio`` (libsndfile) does: ``floor(x · 32768)`` clipped to
    int16, so a finished stream is byte-identical to saving the whole waveform.
    """

    def __init__(self, path: str | Path, sr: int = SAMPLE_RATE):
        import struct

        self._struct = struct
        self.path = Path(path)
        self.samples = 0
        self._f = open(self.path, "wb")
        self._f.write(b"RIFF" + struct.pack("<I", 36) + b"WAVE"
                      + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sr, sr * 2, 2, 16)
                      + b"data" + struct.pack("<I", 0))
        self._f.flush()

    def write(self, chunk: np.ndarray) -> None:
        x = np.clip(np.asarray(chunk, np.float32).reshape(-1), -1.0, 1.0)
        pcm = np.clip(np.floor(x * 32768.0), -32768, 32767)
        self._f.write(pcm.astype("<i2").tobytes())
        self.samples += pcm.size
        data = 2 * self.samples
        self._f.seek(4)
        self._f.write(self._struct.pack("<I", 36 + data))
        self._f.seek(40)
        self._f.write(self._struct.pack("<I", data))
        self._f.seek(0, 2)
        self._f.flush()  # into the OS page cache: survives the process being killed

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "WavAppender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
