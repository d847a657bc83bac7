"""Input preparation for the encoder: the official padding and w2v-BERT 2.0 features.

No torchaudio: transformers' ``Xcodec2FeatureExtractor`` refuses to construct without it, so we
use ``SeamlessM4TFeatureExtractor`` (numpy fbank), which is the class w2v-BERT 2.0 ships with,
set up as its ``preprocessor_config.json`` says. ``tests/parity`` proves the frames equal the
official ones.

Notation: ``n`` samples, ``t`` tokens (one per 320 samples), ``b`` batch.
"""

from __future__ import annotations

import numpy as np
import torch

from .config import HOP_LENGTH, SAMPLE_RATE, SEMANTIC_PAD


def num_tokens(num_samples: int) -> int:
    """Codes the official encoder returns for ``num_samples`` samples: ``n // 320 + 1``.

    The official ``encode_code`` right-pads by ``320 - n % 320`` samples, which is a full extra
    320 when ``n`` is already a multiple of 320 — one more token than ``ceil(n / 320)``. We keep
    that convention so that our codes are identical to the official ones.
    """
    return num_samples // HOP_LENGTH + 1


def pad_waveform(wav: np.ndarray) -> np.ndarray:
    """[n] → [320 · num_tokens(n)] with zeros on the right (the official convention)."""
    return np.pad(wav, (0, num_tokens(len(wav)) * HOP_LENGTH - len(wav)))


def feature_extractor():
    """The w2v-BERT 2.0 feature extractor (80 mel bins, stride 2 → 160-dim frames at 50 Hz)."""
    from transformers import SeamlessM4TFeatureExtractor

    return SeamlessM4TFeatureExtractor(feature_size=80, num_mel_bins=80,
                                       sampling_rate=SAMPLE_RATE, stride=2, padding_value=1.0,
                                       return_attention_mask=True)


def semantic_features(padded: list[np.ndarray], extractor=None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch of already 320-padded waveforms → w2v-BERT inputs and their frame mask.

    Each waveform gets ``SEMANTIC_PAD`` (160) zeros on both sides, as in the official code; a
    padded length of ``320 · t`` then gives exactly ``t`` stacked fbank frames. Normalisation is
    per utterance (before batch padding), so a batch equals its items one by one.

    Args:
        padded: list of b float32 waveforms, each of length ``320 · t_i``.
        extractor: an extractor from :func:`feature_extractor` (built when None).

    Returns:
        (features [b, max t_i, 160] float32, mask [b, max t_i] long: 1 on real frames).
    """
    extractor = extractor or feature_extractor()
    wavs = [np.pad(w.astype(np.float32), (SEMANTIC_PAD, SEMANTIC_PAD)) for w in padded]
    out = extractor(wavs, sampling_rate=SAMPLE_RATE, padding=True, return_attention_mask=True,
                    return_tensors="pt")
    feats, mask = out["input_features"], out["attention_mask"].long()
    for w, m in zip(padded, mask):  # the frame count is the contract the encoder relies on
        assert int(m.sum()) == len(w) // HOP_LENGTH, (int(m.sum()), len(w))
    t_max = max(len(w) for w in padded) // HOP_LENGTH
    return feats[:, :t_max].float(), mask[:, :t_max]
