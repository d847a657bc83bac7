"""Audio data for codec training: file lists, random crops, semantic features, resumable order.

Notation: ``b`` batch, ``l`` crop samples (a multiple of 320), ``t = l / 320`` frames.

The order of samples is a pure function of ``(seed, sample number)``: sample ``g`` is file
``perm_e[g % n]`` of epoch ``e = g // n`` with a crop offset drawn from a generator seeded by
``(seed, g)``. Resuming at step ``s`` therefore only needs ``g = s * batch_size``: no sampler
state, and the same crops whatever the number of DataLoader workers.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset, Sampler

from .._common.errors import InputError
from .._common.log import get_logger
from ..audio import AudioLimits, load_audio
from ..codec.config import HOP_LENGTH
from ..codec.features import feature_extractor, semantic_features

log = get_logger(__name__)
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")
_AUDIO_KEYS = ("audio", "path", "audio_path", "file", "wav")


def list_audio_files(source: str | Path) -> list[Path]:
    """Audio files named by a folder (recursive), a JSONL manifest or a CSV manifest.

    Manifest rows need only an audio path (key ``audio``, ``path``, ``audio_path``, ``file`` or
    ``wav``); transcripts are not needed to train a codec.

    Raises:
        InputError: missing source, unreadable manifest, a row without a path, or no audio.
    """
    src = Path(source).expanduser()
    if not str(source):
        raise InputError("data.train is not set: give a folder of audio or a manifest")
    if not src.exists():
        raise InputError(f"training audio not found: {src}")
    if src.is_dir():
        files = sorted(p for p in src.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)
    elif src.suffix.lower() in (".jsonl", ".json", ".csv"):
        rows = _read_rows(src)
        files = []
        for i, row in enumerate(rows, 1):
            key = next((k for k in _AUDIO_KEYS if row.get(k)), None)
            if key is None:
                raise InputError(f"{src} row {i}: no audio path (expected one of {_AUDIO_KEYS})")
            p = Path(str(row[key])).expanduser()
            files.append(p if p.is_absolute() else src.parent / p)
    else:
        raise InputError(f"{src}: expected a folder, a .jsonl or a .csv manifest")
    if not files:
        raise InputError(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) found in {src}")
    return files


def _read_rows(path: Path) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() == ".csv":
            return list(csv.DictReader(text.splitlines()))
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"cannot read manifest {path}: {e}") from None


def usable_files(files: list[Path], min_seconds: float) -> tuple[list[Path], list[dict]]:
    """Split ``files`` into readable ones of at least ``min_seconds`` and skipped ones.

    Returns:
        (kept paths, skipped ``{"path", "reason"}`` dicts). Only headers are read.
    """
    kept, skipped = [], []
    for p in files:
        try:
            info = sf.info(str(p))
            seconds = info.frames / max(info.samplerate, 1)
        except Exception as e:  # noqa: BLE001 - libsndfile reports many kinds of damage
            skipped.append({"path": str(p), "reason": f"unreadable: {e}"})
            continue
        if seconds < max(min_seconds, 1e-9):
            skipped.append({"path": str(p), "reason": f"too short ({seconds:.3f} s)"})
            continue
        kept.append(p)
    return kept, skipped


class AudioCropDataset(Dataset):
    """Random fixed-length crops of audio files (right-padded when a file is shorter).

    Items are keyed by ``(file index, crop seed)`` (see :class:`StreamSampler`) and are dicts
    ``{"wav": [l] float32 tensor, "features": [t, 160] float32 tensor}`` (w2v-BERT inputs of
    the crop, computed by :func:`llasa.codec.features.semantic_features`).
    """

    def __init__(self, files: list[Path], crop_samples: int):
        if crop_samples % HOP_LENGTH:
            raise InputError(f"crop length must be a multiple of {HOP_LENGTH} samples")
        self.files = list(files)
        self.crop_samples = crop_samples
        self.extractor = feature_extractor()
        # generous limit: long files are fine, only a crop is used
        self.limits = AudioLimits(max_seconds=3600.0, min_seconds=1e-4)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, torch.Tensor]:
        index, crop_seed = key
        wav = load_audio(self.files[index], limits=self.limits)
        n = self.crop_samples
        if len(wav) > n:
            g = torch.Generator().manual_seed(int(crop_seed))
            start = int(torch.randint(0, len(wav) - n + 1, (1,), generator=g))
            wav = wav[start:start + n]
        elif len(wav) < n:
            wav = np.pad(wav, (0, n - len(wav)))
        wav = np.ascontiguousarray(wav, dtype=np.float32)
        # w2v-BERT inputs exactly as the codec's encoder computes them: [1, t, 160]
        feats, _ = semantic_features([wav], self.extractor)
        return {"wav": torch.from_numpy(wav), "features": feats[0]}


class StreamSampler(Sampler):
    """Endless, resumable stream of ``(file index, crop seed)`` keys starting at sample
    ``start`` (one reshuffle per pass over the files)."""

    def __init__(self, num_files: int, seed: int, start: int = 0):
        if num_files < 1:
            raise InputError("no usable audio files to train on")
        self.n, self.seed, self.start = num_files, int(seed), int(start)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        g = self.start
        epoch, perm = None, None
        while True:
            e, pos = divmod(g, self.n)
            if e != epoch:  # one permutation per epoch, computed once
                gen = torch.Generator().manual_seed(self.seed * 1_000_003 + e)
                epoch, perm = e, torch.randperm(self.n, generator=gen).tolist()
            yield perm[pos], self.seed * 1_000_000_007 + g
            g += 1


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack items: ``wav`` [b, 1, l], ``features`` [b, t, 160]."""
    return {"wav": torch.stack([it["wav"] for it in items]).unsqueeze(1),
            "features": torch.stack([it["features"] for it in items])}
