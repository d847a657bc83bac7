"""Settings of preference training (``llasa train prefs``): DPO on stored pairs, or GRPO with
groups sampled and scored online. Presets: ``dpo`` (default), ``grpo``, ``tiny`` (tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .._common.config import load_recipe as _load_recipe
from .._common.errors import InputError
from .lm_config import LMOptimSettings, LoRASettings

METHODS = ("dpo", "grpo", "sft")


@dataclass
class GRPOSettings:
    """GRPO: per prompt, ``group_size`` candidates from the fast batched decoder (the search
    engine's best-of-N: one prefill, forked KV rows), rewards from ``reward`` on the decoded
    audio, advantages normalised within the group.

    Attributes:
        group_size: candidates per prompt (G).
        reward: verifier spec of the reward (defaults to the data folder's).
        kl_beta: weight of the per-token KL to the reference model (k3 estimator).
        temperature: sampling temperature; the policy's log-probs use the same one. None: the
            model's recommended temperature.
        codec: codec that decodes candidates for the verifiers (None: the shipped one).
    """

    group_size: int = 8
    reward: str | None = None
    kl_beta: float = 0.04
    temperature: float | None = None
    codec: str | None = None

    def __post_init__(self):
        if self.group_size < 2:
            raise InputError(f"grpo.group_size must be >= 2, got {self.group_size}")
        if self.kl_beta < 0:
            raise InputError("grpo.kl_beta must be >= 0")


@dataclass
class PrefTrainSettings:
    """Everything ``llasa train prefs`` needs.

    Attributes:
        method: ``dpo``, ``grpo``, or ``sft`` (rejection-sampling fine-tuning: the plain NLL of
            each item's best candidate by reward, the simplest distillation of best-of-N).
        data: a folder written by ``llasa data preferences`` (its pairs for DPO, its prompts
            for GRPO).
        init: the LM to improve (None: the shipped model); also the reference model.
        output_dir: run folder (checkpoints/, metrics.csv, loss.png, model/, adapter/).
        beta: DPO temperature of the implicit reward.
        sft_weight: weight of the chosen sequences' per-token NLL added to the DPO loss (RPO;
            0 = plain DPO).
        pairs: ``best-worst`` (the folder's pairs) or ``best-vs-rest`` (each item's best
            against every candidate at least the folder's margin below it).
        batch_size: pairs (DPO), prompts (GRPO) or best candidates (SFT) per micro-step.
        max_steps, grad_accum, save_every, log_every, keep_last, seed, resume: as in
            ``llasa train lm``.
    """

    method: str = "dpo"
    data: str = ""
    init: str | None = None
    output_dir: str = "runs/prefs/train"
    beta: float = 0.1
    sft_weight: float = 0.0
    pairs: str = "best-worst"
    batch_size: int = 8
    grad_accum: int = 1
    max_steps: int = 100
    save_every: int = 25
    log_every: int = 5
    keep_last: int = 2
    seed: int = 0
    resume: bool = True
    lora: LoRASettings = field(default_factory=LoRASettings)
    optim: LMOptimSettings = field(default_factory=lambda: LMOptimSettings(
        lr=5e-5, weight_decay=0.0, warmup_ratio=0.1))
    grpo: GRPOSettings = field(default_factory=GRPOSettings)

    def __post_init__(self):
        if self.method not in METHODS:
            raise InputError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.pairs not in ("best-worst", "best-vs-rest"):
            raise InputError(f"pairs must be 'best-worst' or 'best-vs-rest', got {self.pairs!r}")
        if self.beta <= 0 or self.sft_weight < 0:
            raise InputError("beta must be > 0 and sft_weight >= 0")
        if min(self.batch_size, self.grad_accum, self.max_steps, self.keep_last) < 1:
            raise InputError("batch_size, grad_accum, max_steps and keep_last must be >= 1")
        if min(self.save_every, self.log_every) < 0:
            raise InputError("save_every and log_every must be >= 0")
        if not self.output_dir:
            raise InputError("output_dir must be set")


def dpo() -> PrefTrainSettings:
    return PrefTrainSettings()


def grpo() -> PrefTrainSettings:
    return PrefTrainSettings(method="grpo", batch_size=2, max_steps=50, save_every=10,
                             log_every=1, optim=LMOptimSettings(lr=1e-5, weight_decay=0.0,
                                                                warmup_ratio=0.0))


def tiny() -> PrefTrainSettings:
    return PrefTrainSettings(batch_size=2, max_steps=6, save_every=3, log_every=1,
                             optim=LMOptimSettings(lr=1e-3, weight_decay=0.0, warmup_ratio=0.0))


def sft() -> PrefTrainSettings:
    return PrefTrainSettings(method="sft")


PRESETS = {"dpo": dpo, "grpo": grpo, "sft": sft, "tiny": tiny}


def load_recipe(path: str | Path | None = None, **overrides) -> PrefTrainSettings:
    """Preset (``preset:`` in the file or ``preset=``; default ``dpo``), file, overrides."""
    return _load_recipe(PrefTrainSettings, PRESETS, "dpo", "preference", path, overrides)
