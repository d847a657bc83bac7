"""Settings of the LM recipe (``llasa train lm``): dataclasses, presets, recipe files.

Presets are named functions returning :class:`LMTrainSettings`: :func:`official` (the
released Llasa pre-training config: lr 5e-5, batch 8, 2 epochs, bf16, gradient checkpointing),
:func:`finetune` (the official full fine-tune: lr 1e-5, batch 4 x accumulation 4, 1 epoch),
:func:`lora` (the official LoRA fine-tune: r 8, alpha 32, q_proj/v_proj, lr 5e-4) and
:func:`tiny` (a hidden-64, 2-layer model trained from scratch in seconds on a CPU; tests).
A recipe file (YAML/JSON) names a preset and overrides some fields::

    preset: lora
    output_dir: runs/my-voice
    data: {train: prepared/, speaker_prefix: true}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .._common.config import load_recipe as _load_recipe
from .._common.errors import InputError

_PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_TASKS = ("tts", "asr")
_SCHEDULES = ("cosine", "linear", "constant_with_warmup")


@dataclass
class LMDataSettings:
    """Training sequences (see :mod:`llasa.training.lm_data` for their exact layout).

    Attributes:
        train: a folder prepared by ``llasa data prepare`` / ``import-official``, or a list of
            such folders trained on as one (same codec; e.g. a corpus and a second one).
        eval: a second prepared folder for the eval loss; None holds out ``eval_fraction``.
        eval_fraction: share of ``train`` held out for the eval loss when ``eval`` is None
            (chosen by the seed; at most ``eval_max_items`` items).
        eval_max_items: cap on held-out items (eval cost).
        task: ``"tts"`` (text in, speech out: the official recipe) or ``"asr"`` (speech in,
            text out with the SPEECH_UNDERSTANDING / TEXT_GENERATION tokens).
        max_length: longest sequence in tokens; longer utterances are left out (counted).
        packing: concatenate short sequences into rows of ``max_length`` (each keeps its own
            positions and attends only to itself).
        speaker_prefix: start the assistant turn with ``"Speaker NAME "`` (multi-speaker
            fine-tunes, as the official Genshin recipe); items without a speaker get none.
        mask_template_eot: reproduce the official attention-mask quirk (pad == ``<|eot_id|>``,
            so the template's end-of-turn tokens are masked out of attention). None: on when
            fine-tuning a checkpoint without packing, off for tiny/scratch models and packing.
        num_workers: DataLoader worker processes.
        clone_pairs: add joined same-speaker pairs (prompt + continuation, the cloning layout)
            as this share of the training items (0: none; see
            :class:`~llasa.training.lm_data.LMDataset`). For small models trained from scratch;
            the official recipe trains on single utterances.
        unconditional: add this share of the single items again with the text left out, so
            the model also learns speech without text: classifier-free guidance
            (``GenerationSettings.cfg_scale``) contrasts the two. 0: none; 0.1 is typical.
        text_frontend: what the model reads instead of the transcripts: ``"espeak:VOICE"``
            (espeak-ng IPA phonemes, clause punctuation kept; :mod:`llasa.lm.frontend`),
            ``"normalize:en"`` (numbers, dates, money... as words), both in order
            (``"normalize:en+espeak:en-us"``), or ``"none"`` (raw text, as the official
            checkpoints). None: what ``model.init``
            declares (raw text for tiny models and the official checkpoints). Saved into the
            model's ``config.json``, so inference applies the same frontend.
    """

    train: str | list[str] = ""
    eval: str | None = None
    eval_fraction: float = 0.02
    eval_max_items: int = 1000
    task: str = "tts"
    max_length: int = 2048
    packing: bool = False
    speaker_prefix: bool = False
    mask_template_eot: bool | None = None
    num_workers: int = 0
    clone_pairs: float = 0.0
    unconditional: float = 0.0
    text_frontend: str | None = None

    def __post_init__(self):
        if isinstance(self.train, (list, tuple)):
            if not all(isinstance(t, str) and t for t in self.train):
                raise InputError(f"data.train must be a folder or a list of folders, got "
                                 f"{self.train!r}")
            self.train = list(self.train) if len(self.train) != 1 else self.train[0]
        elif not isinstance(self.train, str):
            raise InputError(f"data.train must be a folder or a list of folders, got "
                             f"{self.train!r}")
        if self.text_frontend is not None and not (self.text_frontend == "none" or all(
                p.startswith("espeak:") or p == "normalize:en"
                for p in self.text_frontend.split("+"))):
            raise InputError(f"data.text_frontend must be 'espeak:VOICE', 'normalize:en', both "
                             f"joined by '+', or 'none', got {self.text_frontend!r}")
        if self.text_frontend not in (None, "none") and self.task != "tts":
            raise InputError("data.text_frontend needs data.task 'tts'")
        if self.clone_pairs < 0:
            raise InputError("data.clone_pairs must be >= 0")
        if not 0 <= self.unconditional <= 1:
            raise InputError("data.unconditional must lie in [0, 1]")
        if self.unconditional and self.task != "tts":
            raise InputError("data.unconditional needs data.task 'tts'")
        if self.clone_pairs and self.task != "tts":
            raise InputError("data.clone_pairs needs data.task 'tts'")
        if self.task not in _TASKS:
            raise InputError(f"data.task must be one of {_TASKS}, got {self.task!r}")
        if not 0 <= self.eval_fraction < 1:
            raise InputError("data.eval_fraction must be in [0, 1)")
        if self.max_length < 16:
            raise InputError("data.max_length must be >= 16 tokens")
        if self.eval_max_items < 1 or self.num_workers < 0:
            raise InputError("data.eval_max_items must be >= 1 and data.num_workers >= 0")
        if self.packing and self.mask_template_eot:
            raise InputError("data.packing cannot be combined with data.mask_template_eot: "
                             "packed rows separate sequences by position ids, without a mask")


@dataclass
class LMModelSettings:
    """Where the weights come from.

    Attributes:
        init: ``"tiny"`` (a random :func:`llasa.lm.tiny_lm`, shape from ``tiny``), or a model
            directory / hub id: an official Llasa checkpoint, a run's ``model/`` folder, or a
            plain Llama-3 checkpoint (its vocabulary is extended with Llasa's 8 tokens and the
            speech tokens, as the official recipe does).
        from_scratch: with a directory / hub id, take only its config and tokenizer and start
            from random weights.
        tiny: :class:`llasa.lm.TinyLMConfig` fields for ``init: tiny`` (codebook_size comes from
            the data).
        revision: hub revision of ``init``.
    """

    init: str = "HKUSTAudio/Llasa-1B"
    from_scratch: bool = False
    tiny: dict = field(default_factory=dict)
    revision: str | None = None

    def __post_init__(self):
        if not self.init:
            raise InputError("model.init must be 'tiny' or a model directory / hub id")
        if not isinstance(self.tiny, dict):
            raise InputError("model.tiny must be a mapping of TinyLMConfig fields")


@dataclass
class LoRASettings:
    """LoRA through peft (official: r 8, alpha 32, dropout 0.1, q_proj + v_proj).

    Attributes:
        enabled: train adapters only (the base weights stay frozen).
        modules_to_save: modules trained in full beside the adapters (e.g. ``embed_tokens``,
            ``lm_head`` when the base had no speech tokens yet).
    """

    enabled: bool = False
    r: int = 8
    alpha: int = 32
    dropout: float = 0.1
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "v_proj"])
    modules_to_save: list[str] = field(default_factory=list)

    def __post_init__(self):
        if self.r < 1 or self.alpha <= 0:
            raise InputError("lora.r must be >= 1 and lora.alpha > 0")
        if not 0 <= self.dropout < 1:
            raise InputError("lora.dropout must be in [0, 1)")
        if not self.target_modules:
            raise InputError("lora.target_modules must name at least one module")


@dataclass
class LMOptimSettings:
    """AdamW + warm-up + schedule + gradient clipping (HF Trainer names in brackets)."""

    lr: float = 5e-5
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.95)
    warmup_ratio: float = 0.03
    schedule: str = "cosine"
    grad_clip: float = 1.0
    optimizer: str = "adamw_torch"

    def __post_init__(self):
        self.betas = tuple(float(b) for b in self.betas)
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise InputError(f"optim.betas must be two numbers in [0, 1), got {self.betas}")
        if self.lr <= 0 or self.weight_decay < 0 or self.grad_clip <= 0:
            raise InputError("optim.lr and optim.grad_clip must be > 0, weight_decay >= 0")
        if not 0 <= self.warmup_ratio < 1:
            raise InputError("optim.warmup_ratio must be in [0, 1)")
        if self.schedule not in _SCHEDULES:
            raise InputError(f"optim.schedule must be one of {_SCHEDULES}")


@dataclass
class SampleSettings:
    """Optional speech samples written at every checkpoint (TTS task only).

    Attributes:
        codec: codec directory / hub id that decodes the codes (None: no samples).
        texts: sentences to synthesise.
        max_seconds: cap on each sample's length.
    """

    codec: str | None = None
    texts: list[str] = field(default_factory=lambda: ["Hello, this is a training sample."])
    max_seconds: float = 10.0

    def __post_init__(self):
        if self.codec is not None and not self.texts:
            raise InputError("sample.texts must hold at least one sentence")


@dataclass
class LMTrainSettings:
    """Everything the LM recipe needs. See the presets for typical values.

    Attributes:
        output_dir: run folder: ``checkpoints/``, ``metrics.csv``, ``loss.png``, ``model/``
            (full) or ``adapter/`` (LoRA), ``samples/``.
        max_steps: optimizer steps; 0 means ``num_epochs`` over the data.
        num_epochs: epochs when ``max_steps`` is 0.
        batch_size: sequences per device per micro-step.
        grad_accum: micro-steps per optimizer step (global batch = batch_size x grad_accum x
            processes).
        precision: ``auto`` (bf16 on a GPU that has it, else fp32), ``fp32``, ``bf16``,
            ``fp16`` (GPU only).
        gradient_checkpointing: recompute activations in backward (less memory, ~30 % slower).
        save_every, eval_every, log_every: intervals in optimizer steps (0: never; a checkpoint
            and an eval are always written at the end).
        keep_last: checkpoints kept on disk.
        resume: continue from the newest complete checkpoint in ``output_dir``.
        seed: weights (tiny/scratch), data order, held-out split, dropout.
        device: ``auto`` or ``cpu`` (``cpu`` keeps a GPU machine's training on the CPU).
        deepspeed: a DeepSpeed JSON config (ZeRO-2/3; GPU users, see configs/accelerate/).
        tensorboard: also log to TensorBoard (when the package is installed).
    """

    output_dir: str = "runs/lm"
    max_steps: int = 0
    num_epochs: float = 2.0
    batch_size: int = 8
    grad_accum: int = 1
    precision: str = "auto"
    gradient_checkpointing: bool = True
    save_every: int = 5000
    eval_every: int = 1000
    log_every: int = 10
    keep_last: int = 2
    resume: bool = True
    seed: int = 42
    device: str = "auto"
    deepspeed: str | None = None
    tensorboard: bool = True
    data: LMDataSettings = field(default_factory=LMDataSettings)
    model: LMModelSettings = field(default_factory=LMModelSettings)
    lora: LoRASettings = field(default_factory=LoRASettings)
    optim: LMOptimSettings = field(default_factory=LMOptimSettings)
    sample: SampleSettings = field(default_factory=SampleSettings)

    def __post_init__(self):
        if self.max_steps < 0 or (self.max_steps == 0 and self.num_epochs <= 0):
            raise InputError("set max_steps > 0 or num_epochs > 0")
        if self.batch_size < 1 or self.grad_accum < 1 or self.keep_last < 1:
            raise InputError("batch_size, grad_accum and keep_last must be >= 1")
        if min(self.save_every, self.eval_every, self.log_every) < 0:
            raise InputError("save_every, eval_every and log_every must be >= 0")
        if self.precision not in _PRECISIONS:
            raise InputError(f"precision must be one of {_PRECISIONS}, got {self.precision!r}")
        if self.device not in ("auto", "cpu"):
            raise InputError("device must be 'auto' or 'cpu' (GPUs are chosen by the launcher: "
                             "CUDA_VISIBLE_DEVICES / torchrun / accelerate launch)")
        if not self.output_dir:
            raise InputError("output_dir must be set")
        if self.sample.codec and self.data.task != "tts":
            raise InputError("sample synthesis needs data.task 'tts'")


def official() -> LMTrainSettings:
    """The released Llasa training config (from Llama-3.2-1B-Instruct: vocabulary extended)."""
    return LMTrainSettings(model=LMModelSettings(init="meta-llama/Llama-3.2-1B-Instruct"))


def finetune(init: str = "HKUSTAudio/Llasa-1B") -> LMTrainSettings:
    """The official full fine-tune: lr 1e-5, 4 x 4 batch, 1 epoch, warm-up 3 %."""
    return LMTrainSettings(output_dir="runs/lm-finetune", num_epochs=1.0, batch_size=4,
                           grad_accum=4, save_every=500, eval_every=250,
                           model=LMModelSettings(init=init), optim=LMOptimSettings(lr=1e-5))


def lora(init: str = "HKUSTAudio/Llasa-1B") -> LMTrainSettings:
    """The official LoRA fine-tune: r 8, alpha 32, dropout 0.1 on q_proj/v_proj, lr 5e-4."""
    s = finetune(init)
    s.output_dir = "runs/lm-lora"
    s.lora = LoRASettings(enabled=True)
    s.optim = LMOptimSettings(lr=5e-4)
    return s


def tiny() -> LMTrainSettings:
    """Hidden 64, 2 layers, from scratch, fp32 on the CPU: a few steps per second."""
    return LMTrainSettings(
        output_dir="runs/lm-tiny", max_steps=60, batch_size=4, precision="fp32",
        gradient_checkpointing=False, save_every=20, eval_every=20, log_every=5, seed=0,
        device="cpu", tensorboard=False,
        data=LMDataSettings(max_length=512, eval_fraction=0.1),
        model=LMModelSettings(init="tiny"),
        optim=LMOptimSettings(lr=3e-3, warmup_ratio=0.1))


PRESETS = {"official": official, "finetune": finetune, "lora": lora, "tiny": tiny}


def load_recipe(path: str | Path | None = None, **overrides) -> LMTrainSettings:
    """Build settings from a recipe file (``preset:`` + overrides) and nested overrides.

    Raises:
        InputError: unknown preset, unknown keys, bad values or an unreadable file.
    """
    return _load_recipe(LMTrainSettings, PRESETS, 'finetune', 'LM', path, overrides)
