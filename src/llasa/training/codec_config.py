"""Settings of the codec GAN recipe (``llasa train codec``): dataclasses, presets, recipe files.

Presets are named functions returning :class:`CodecTrainSettings`: :func:`official` (the
X-codec2 recipe from scratch), :func:`finetune` (continue from released weights) and
:func:`tiny` (seconds on a CPU; tests). A recipe file (YAML/JSON) names a preset and overrides
some fields::

    preset: tiny
    output_dir: runs/codec-tiny
    data: {train: data/wavs, batch_size: 4}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .._common.config import load_recipe as _load_recipe
from .._common.errors import InputError
from ..codec.config import HOP_LENGTH, SAMPLE_RATE
from ..codec.discriminators import DiscriminatorSettings
from ..codec.discriminators import official as official_discriminators
from ..codec.discriminators import tiny as tiny_discriminators
from ..codec.losses import MEL_BINS, MEL_WINDOWS

_HOP = HOP_LENGTH  # crops are whole codec frames
_PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass
class CodecDataSettings:
    """Audio for training.

    Attributes:
        train: a folder of audio files (searched recursively), a JSONL manifest with an
            ``"audio"`` path per line, or a CSV manifest with an ``audio`` column (relative
            paths resolve against the manifest's folder).
        crop_seconds: random crop length; shorter clips are right-padded (recipe: 6 s).
            Rounded down to whole 320-sample frames.
        batch_size: crops per step (recipe: 8 per GPU).
        num_workers: DataLoader worker processes (0 reads in the training process).
        min_seconds: files shorter than this are skipped (listed in the log).
    """

    train: str = ""
    crop_seconds: float = 6.0
    batch_size: int = 8
    num_workers: int = 0
    min_seconds: float = 0.1

    def __post_init__(self):
        if self.crop_seconds * SAMPLE_RATE < _HOP:
            raise InputError(f"data.crop_seconds must be at least {_HOP / SAMPLE_RATE} s (one "
                             "frame)")
        if self.batch_size < 1:
            raise InputError("data.batch_size must be >= 1")
        if self.num_workers < 0:
            raise InputError("data.num_workers must be >= 0")
        if self.min_seconds < 0:
            raise InputError("data.min_seconds must be >= 0")

    @property
    def crop_samples(self) -> int:
        return int(self.crop_seconds * SAMPLE_RATE) // _HOP * _HOP


@dataclass
class CodecModelSettings:
    """The generator (transformers' ``Xcodec2Model``) and the semantic branch.

    Attributes:
        init: ``"scratch"`` builds ``preset`` with random weights; anything else is a model
            directory or hub id (``llasa codec``-saved or ``HKUSTAudio/xcodec2-hf``) to fine-tune.
        preset: codec preset for scratch training: ``"tiny"`` or ``"full"``
            (``llasa.codec.presets``).
        config: ``Xcodec2Config`` fields overriding the preset (scratch only).
        semantic_encoder: weights for the frozen w2v-BERT encoder when training from scratch
            (a directory or hub id such as ``facebook/w2v-bert-2.0``); ``None`` keeps random
            weights, which is only meaningful for tiny experiments.
        semantic_head: train the semantic-reconstruction head (fc_post_s + SemanticDecoder,
            MSE to the semantic encoder's features). Optional for small models.
        revision: hub revision for ``init`` / ``semantic_encoder``.
    """

    init: str = "scratch"
    preset: str = "full"
    config: dict = field(default_factory=dict)
    semantic_encoder: str | None = None
    semantic_head: bool = True
    revision: str | None = None

    def __post_init__(self):
        if self.preset not in ("tiny", "full"):
            raise InputError(f"model.preset must be 'tiny' or 'full', got {self.preset!r}")
        if not isinstance(self.config, dict):
            raise InputError("model.config must be a mapping of Xcodec2Config fields")
        if not self.init:
            raise InputError("model.init must be 'scratch' or a model directory / hub id")


@dataclass
class CodecLossSettings:
    """Loss weights and mel scales (recipe: mel 15, adversarial 1, feature matching 1,
    semantic 5; 7 mel scales, window = n_fft, hop = window/4)."""

    mel_weight: float = 15.0
    adversarial_weight: float = 1.0
    feature_matching_weight: float = 1.0
    semantic_weight: float = 5.0
    # Not in the official recipe (hence 0): keeps FSQ inputs out of tanh saturation, which
    # collapses small codecs trained from scratch to one code (codec.losses.fsq_bound_penalty).
    fsq_bound_weight: float = 0.0
    fsq_bound_margin: float = 1.5
    mel_windows: tuple[int, ...] = MEL_WINDOWS
    mel_bins: tuple[int, ...] = MEL_BINS

    def __post_init__(self):
        self.mel_windows = tuple(int(w) for w in self.mel_windows)
        self.mel_bins = tuple(int(m) for m in self.mel_bins)
        if len(self.mel_windows) != len(self.mel_bins) or not self.mel_windows:
            raise InputError("loss.mel_windows and loss.mel_bins need the same, non-zero length")
        if self.fsq_bound_margin <= 0:
            raise InputError("loss.fsq_bound_margin must be > 0")
        for name in ("mel_weight", "adversarial_weight", "feature_matching_weight",
                     "semantic_weight", "fsq_bound_weight"):
            if getattr(self, name) < 0:
                raise InputError(f"loss.{name} must be >= 0")


@dataclass
class CodecOptimSettings:
    """AdamW for generator and discriminator separately, with the recipe's lr schedule.

    The lr rises quadratically from ``start_lr`` to ``peak_lr`` over ``warmup_steps``, then
    falls linearly to ``final_lr`` over ``decay_steps`` and stays there.
    """

    betas: tuple[float, float] = (0.8, 0.9)
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    start_lr: float = 1e-5
    peak_lr: float = 1e-4
    final_lr: float = 2e-5
    warmup_steps: int = 3000
    decay_steps: int = 400_000

    def __post_init__(self):
        self.betas = tuple(float(b) for b in self.betas)
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise InputError(f"optim.betas must be two numbers in [0, 1), got {self.betas}")
        if self.grad_clip <= 0:
            raise InputError("optim.grad_clip must be > 0")
        if min(self.start_lr, self.peak_lr, self.final_lr, self.weight_decay) < 0:
            raise InputError("optim learning rates and weight_decay must be >= 0")
        if self.warmup_steps < 0 or self.decay_steps < 0:
            raise InputError("optim.warmup_steps and optim.decay_steps must be >= 0")


@dataclass
class CodecTrainSettings:
    """Everything the codec recipe needs. See the presets for typical values.

    Attributes:
        output_dir: run folder: ``checkpoints/``, ``metrics.csv``, ``loss.png``, ``model/``.
        max_steps: total optimizer steps (each step = one discriminator + one generator update).
        save_every: checkpoint interval in steps (also written at the end).
        keep_last: checkpoints kept on disk.
        resume: continue from the newest checkpoint in ``output_dir`` if there is one.
        precision: ``auto`` (bf16 on CUDA when supported, else fp32), ``fp32``, ``bf16``,
            ``fp16`` (CUDA only; uses gradient scalers).
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:1`` …
        seed: seeds weights, data order, crops and dropout.
        plot: write ``loss.png`` at every checkpoint.
    """

    output_dir: str = "runs/codec"
    max_steps: int = 400_000
    save_every: int = 20_000
    keep_last: int = 2
    resume: bool = True
    precision: str = "auto"
    device: str = "auto"
    seed: int = 1024
    plot: bool = True
    data: CodecDataSettings = field(default_factory=CodecDataSettings)
    model: CodecModelSettings = field(default_factory=CodecModelSettings)
    loss: CodecLossSettings = field(default_factory=CodecLossSettings)
    optim: CodecOptimSettings = field(default_factory=CodecOptimSettings)
    discriminator: DiscriminatorSettings = field(default_factory=official_discriminators)

    def __post_init__(self):
        if self.max_steps < 1:
            raise InputError("max_steps must be >= 1")
        if self.save_every < 1 or self.keep_last < 1:
            raise InputError("save_every and keep_last must be >= 1")
        if self.precision not in _PRECISIONS:
            raise InputError(f"precision must be one of {_PRECISIONS}, got {self.precision!r}")
        if not self.output_dir:
            raise InputError("output_dir must be set")


def official() -> CodecTrainSettings:
    """The X-codec2 recipe from scratch (full codec, 6 s crops, batch 8, lr 1e-4 peak)."""
    return CodecTrainSettings()


def finetune(init: str = "HKUSTAudio/xcodec2-hf") -> CodecTrainSettings:
    """Continue training released weights on new audio: short warm-up to a low lr."""
    return CodecTrainSettings(
        max_steps=20_000, save_every=2_000,
        model=CodecModelSettings(init=init, semantic_head=False),
        optim=CodecOptimSettings(start_lr=1e-6, peak_lr=2e-5, final_lr=1e-5, warmup_steps=500,
                                 decay_steps=20_000))


def tiny() -> CodecTrainSettings:
    """Tiny codec + narrow discriminators, 1 s crops: a few steps per second on a CPU."""
    return CodecTrainSettings(
        output_dir="runs/codec-tiny", max_steps=200, save_every=100, precision="fp32",
        device="cpu", seed=0,
        data=CodecDataSettings(crop_seconds=1.0, batch_size=2),
        # std 0.1 instead of 0.02: at 0.02 the tiny encoder's output is so small that FSQ maps
        # every frame to one code, and the decoder's norm layers then see a constant input
        # (unbounded gradients). 0.1 gives ~100 distinct codes per second from the start.
        model=CodecModelSettings(preset="tiny", config={"initializer_range": 0.1}),
        optim=CodecOptimSettings(start_lr=1e-4, peak_lr=1e-3, final_lr=1e-4, warmup_steps=10,
                                 decay_steps=1000),
        discriminator=tiny_discriminators())


PRESETS = {"official": official, "finetune": finetune, "tiny": tiny}


def load_recipe(path: str | Path | None = None, **overrides) -> CodecTrainSettings:
    """Build settings from a recipe file (``preset:`` + overrides) and keyword overrides.

    Raises:
        InputError: unknown preset, unknown keys, bad values or an unreadable file.
    """
    return _load_recipe(CodecTrainSettings, PRESETS, 'official', 'codec', path, overrides)
