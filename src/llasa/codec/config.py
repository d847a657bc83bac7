"""Constants of the X-codec2 format and the checks a network configuration must pass.

The network itself is configured by transformers' ``Xcodec2Config``; presets live in
:mod:`llasa.codec.presets`. What we add is the contract every llasa codec honours (16 kHz, one
token per 320 samples) so that code and LM vocabularies stay interchangeable.
"""

from __future__ import annotations

from .._common.errors import ModelLoadError
from .._common.units import FRAME_RATE, HOP_LENGTH, SAMPLE_RATE  # noqa: F401 (re-exported)

SEMANTIC_PAD = 160  # samples of zeros on each side before the w2v-BERT fbank (official)
SEMANTIC_LAYER = 16  # the official code reads hidden_states[16] of w2v-BERT 2.0


def check_config(config) -> None:
    """Raise ModelLoadError unless ``config`` (an Xcodec2Config) fits the llasa contract."""
    problems = []
    if int(config.sampling_rate) != SAMPLE_RATE:
        problems.append(f"sampling_rate {config.sampling_rate} != {SAMPLE_RATE}")
    if config.hop_length != HOP_LENGTH:
        problems.append(f"hop length {config.hop_length} (downsampling_ratios "
                        f"{list(config.downsampling_ratios)}) != {HOP_LENGTH}")
    sem = config.semantic_model_config.hidden_size
    if config.quantization_dim != config.hidden_size + sem:
        problems.append(f"quantization_dim {config.quantization_dim} != hidden_size "
                        f"{config.hidden_size} + semantic hidden size {sem}")
    if config.hidden_size % 32:
        problems.append(f"hidden_size {config.hidden_size} must be a multiple of 32 (GroupNorm)")
    if problems:
        raise ModelLoadError("unsupported codec configuration: " + "; ".join(problems))


def codebook_size(config) -> int:
    """Number of distinct codes: the product of the FSQ levels (65 536 for 4^8)."""
    n = 1
    for level in config.quantization_levels:
        n *= int(level)
    return n
