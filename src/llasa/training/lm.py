"""The LM recipe (``llasa train lm``): full or LoRA fine-tuning on HF ``Trainer``.

Features: TTS or ASR sequences exactly as :mod:`llasa.training.lm_data` documents them
(official chat wrapping and labels, optional packing and speaker prefix); start from an official
checkpoint, a plain Llama-3 (vocabulary extended), our tiny factory, or random weights; fp32 /
bf16, gradient checkpointing, cosine schedule with warm-up, gradient clipping; LoRA through
peft; multi-process through ``torchrun`` / ``accelerate launch`` (HF Trainer does the
distribution; DeepSpeed ZeRO-2/3 and FSDP configs in ``configs/accelerate/``); exact resume
after ``kill -9`` (Trainer restores weights, optimizer, scheduler, RNG and data position from
the newest *complete* checkpoint); periodic eval loss; ``metrics.csv`` + ``loss.png`` (+
TensorBoard when installed); optional speech samples at every checkpoint.

Run folder::

    checkpoints/checkpoint-<step>/   HF Trainer checkpoints (resume)
    metrics.csv, loss.png           step, loss, eval_loss, lr, grad_norm, tokens_per_second
    model/                          full fine-tune result (LlasaLM.from_pretrained loads it)
    adapter/ (+ base/ for tiny)     LoRA result; ``llasa train merge-lora`` merges it
    samples/step_<N>_<k>.wav        optional samples

Raises InputError for bad settings or data, ModelLoadError for models that cannot be loaded.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from .._common.config import to_dict
from .._common.errors import InputError, ModelLoadError
from .._common.log import get_logger
from .._common.units import FRAME_RATE
from ..lm.frontend import FRONTEND_KEY, declare_frontend, get_frontend
from ..lm.tokens import ADDED_TOKENS, SpeechVocab, speech_token_strings
from .data.shards import CodeShards
from .lm_config import LMTrainSettings
from .lm_data import Collator, LMDataset, SequenceBuilder
from .metrics import MetricsLog

log = get_logger(__name__)
_FIELDS = ["step", "loss", "eval_loss", "lr", "grad_norm", "tokens_per_second"]


# ---- model --------------------------------------------------------------------------------
def build_model(s: LMTrainSettings, codebook_size: int):
    """(model, tokenizer, pretrained?) for ``s.model``; the tokenizer covers ``codebook_size``
    speech tokens (a plain Llama tokenizer is extended as the official recipe does)."""
    m = s.model
    if m.init == "tiny":
        from ..lm.tiny import tiny_lm

        lm = tiny_lm(codebook_size=codebook_size, seed=s.seed, **m.tiny)
        return lm.model.train(), lm.tokenizer, False
    from transformers import AutoConfig, AutoTokenizer, LlamaForCausalLM

    from .._common.hub import resolve

    path = resolve(m.init, revision=m.revision)
    try:
        tok = AutoTokenizer.from_pretrained(str(path))
        if m.from_scratch:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(s.seed)
                model = LlamaForCausalLM(AutoConfig.from_pretrained(str(path)))
        else:
            model = LlamaForCausalLM.from_pretrained(str(path), dtype=torch.float32)
    except (OSError, ValueError, KeyError) as e:
        raise ModelLoadError(f"cannot load a Llama LM from {path}: {e}") from None
    extend_vocab(model, tok, codebook_size)
    return model, tok, not m.from_scratch


def extend_vocab(model, tok, codebook_size: int) -> None:
    """Give a plain Llama tokenizer Llasa's 8 tokens + ``<|s_k|>`` (k < codebook_size) with
    ``add_tokens`` and resize the embeddings (official recipe; pad = eos)."""
    try:
        vocab = SpeechVocab.from_tokenizer(tok)
    except ModelLoadError:
        tok.add_tokens(list(ADDED_TOKENS) + speech_token_strings(codebook_size))
        vocab = SpeechVocab.from_tokenizer(tok)
    if vocab.codebook_size < codebook_size:
        raise InputError(f"the tokenizer has {vocab.codebook_size} speech tokens but the data "
                         f"uses a codebook of {codebook_size}")
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    if model.get_input_embeddings().weight.shape[0] < len(tok):
        model.resize_token_embeddings(len(tok))


# ---- data ---------------------------------------------------------------------------------
def text_frontend(s: LMTrainSettings, model) -> str:
    """The frontend the run trains with (``data.text_frontend``, else the one ``model.init``
    declares), written into the model config so inference applies it too; "" for raw text."""
    spec = s.data.text_frontend
    if spec is None:
        spec = getattr(model.config, FRONTEND_KEY, None) or ""
    spec = "" if spec == "none" else spec
    declare_frontend(model.config, spec)
    return spec


def build_datasets(s: LMTrainSettings, tok, mask_eot: bool, frontend: str = ""):
    """(train, eval or None) :class:`LMDataset` s; ``frontend``: see :func:`text_frontend`."""
    d = s.data
    if not d.train:
        raise InputError("data.train is not set: give a folder from `llasa data prepare`")
    shards = CodeShards(d.train)
    builder = SequenceBuilder(tok, d.task, speaker_prefix=d.speaker_prefix,
                              mask_template_eot=mask_eot, frontend=get_frontend(frontend))
    idx = np.arange(len(shards))
    eval_ds = None
    if d.eval:
        eval_ds = LMDataset(CodeShards(d.eval), builder, d.max_length)
    elif d.eval_fraction > 0 and len(shards) > 1:
        n = min(d.eval_max_items, max(1, int(round(len(shards) * d.eval_fraction))))
        perm = np.random.default_rng(s.seed).permutation(len(shards))
        eval_ds = LMDataset(shards, builder, d.max_length, indices=np.sort(perm[:n]))
        idx = np.sort(perm[n:])
    train = LMDataset(shards, builder, d.max_length, indices=idx, packing=d.packing,
                      seed=s.seed, clone_pairs=d.clone_pairs, unconditional=d.unconditional)
    if train.num_too_long:
        log.warning("%d training utterances are longer than max_length %d and left out",
                    train.num_too_long, d.max_length)
    return train, eval_ds


def latest_checkpoint(ckpt_dir: Path, clean: bool) -> Path | None:
    """The newest checkpoint whose ``trainer_state.json`` parses (written last by Trainer);
    incomplete ones (killed mid-save) are deleted when ``clean`` (main process only)."""
    if not ckpt_dir.is_dir():
        return None
    found = []
    for p in ckpt_dir.glob("checkpoint-*"):
        try:
            step = int(p.name.split("-")[1])
            json.loads((p / "trainer_state.json").read_text())
            found.append((step, p))
        except (ValueError, OSError, IndexError):
            if clean:
                shutil.rmtree(p, ignore_errors=True)
    return max(found)[1] if found else None


# ---- callbacks ----------------------------------------------------------------------------
def _callbacks(s: LMTrainSettings, out: Path, resume_step: int, builder):
    from transformers import TrainerCallback

    class Metrics(TrainerCallback):
        """Appends logged losses to metrics.csv, redraws loss.png at every save."""

        def __init__(self):
            self.log = MetricsLog(out / "metrics.csv")
            self.last = None

        def on_train_begin(self, args, state, control, **kw):
            if state.is_world_process_zero:
                self.log.truncate(resume_step)
            self.last = (time.perf_counter(), state.num_input_tokens_seen)

        def on_log(self, args, state, control, logs=None, **kw):
            if not state.is_world_process_zero or not logs or not (
                    "loss" in logs or "eval_loss" in logs):
                return
            row = {"step": state.global_step, "loss": logs.get("loss"),
                   "eval_loss": logs.get("eval_loss"), "lr": logs.get("learning_rate"),
                   "grad_norm": logs.get("grad_norm"), "tokens_per_second": None}
            if "loss" in logs:
                now = (time.perf_counter(), state.num_input_tokens_seen)
                if now[1] > self.last[1]:
                    row["tokens_per_second"] = (now[1] - self.last[1]) / (now[0] - self.last[0])
                self.last = now
            self.log.append({k: row[k] for k in _FIELDS})

        def on_save(self, args, state, control, **kw):
            if state.is_world_process_zero:
                self.log.plot(out / "loss.png", ["loss", "eval_loss"], title="LM training")

    cbs = [Metrics()]
    if s.sample.codec:
        cbs.append(_sample_callback(s, out, builder))
    return cbs


def _sample_callback(s: LMTrainSettings, out: Path, builder):
    from transformers import TrainerCallback

    class Samples(TrainerCallback):
        """Synthesises ``sample.texts`` at every checkpoint (main process)."""

        codec = None

        def on_save(self, args, state, control, model=None, **kw):
            if not state.is_world_process_zero:
                return
            write_samples(model, builder, s, out / "samples", state.global_step, self)

    return Samples()


def write_samples(model, builder, s: LMTrainSettings, folder: Path, step: int, holder) -> list:
    """Sample each ``s.sample.texts`` with the official settings and write 16 kHz wavs."""
    from ..audio.io import save_audio
    from ..codec.model import Codec
    from ..lm.sampling import GenerationSettings
    from ..lm.model import LlasaLM

    if holder.codec is None:
        holder.codec = Codec.from_pretrained(s.sample.codec, decode_only=True, device="cpu")
    net = model.get_base_model() if hasattr(model, "get_base_model") else model
    was_training = net.training
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    try:
        lm = LlasaLM(net, builder.tok, device=net.device, dtype=net.dtype)
        gs = GenerationSettings(seed=s.seed, max_new_tokens=int(FRAME_RATE * s.sample.max_seconds))
        prompts = [builder.prompt(t) for t in s.sample.texts]
        for k, [g] in enumerate(lm.generate(prompts, gs)):
            codes = np.clip(g.codes, 0, holder.codec.codebook_size - 1)
            if len(codes):
                [wav] = holder.codec.decode([codes])
                paths.append(save_audio(folder / f"step_{step:08d}_{k}.wav", wav))
    finally:
        net.train(was_training)
    return paths


# ---- the recipe ---------------------------------------------------------------------------
def _precision(p: str) -> str:
    if p == "auto":
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"
    if p == "fp16" and not torch.cuda.is_available():
        raise InputError("precision fp16 needs a GPU; use fp32 or bf16")
    return p


def training_arguments(s: LMTrainSettings, ckpt_dir: Path, has_eval: bool):
    """The ``transformers.TrainingArguments`` of settings ``s``."""
    from transformers import TrainingArguments

    prec = _precision(s.precision)
    if s.deepspeed:
        try:
            import deepspeed  # noqa: F401
        except ImportError:
            raise InputError("deepspeed is set but the deepspeed package is not installed "
                             "(pip install deepspeed on a GPU machine)") from None
        if not Path(s.deepspeed).is_file():
            raise InputError(f"deepspeed config not found: {s.deepspeed}")
    report = ["tensorboard"] if s.tensorboard and _has_tensorboard() else []
    return TrainingArguments(
        output_dir=str(ckpt_dir), max_steps=s.max_steps or -1, num_train_epochs=s.num_epochs,
        per_device_train_batch_size=s.batch_size, per_device_eval_batch_size=s.batch_size,
        gradient_accumulation_steps=s.grad_accum, learning_rate=s.optim.lr,
        weight_decay=s.optim.weight_decay, adam_beta1=s.optim.betas[0],
        adam_beta2=s.optim.betas[1], warmup_steps=s.optim.warmup_ratio,
        lr_scheduler_type=s.optim.schedule, max_grad_norm=s.optim.grad_clip,
        optim=s.optim.optimizer, bf16=prec == "bf16", fp16=prec == "fp16",
        activation_checkpointing=s.gradient_checkpointing,
        logging_steps=s.log_every or 10**9, save_strategy="steps" if s.save_every else "no",
        save_steps=s.save_every or 10**9, save_total_limit=s.keep_last,
        eval_strategy="steps" if has_eval and s.eval_every else "no",
        eval_steps=s.eval_every or None, seed=s.seed, data_seed=s.seed,
        report_to=report,
        use_cpu=s.device == "cpu", dataloader_num_workers=s.data.num_workers,
        remove_unused_columns=False, include_num_input_tokens_seen="non_padding",
        deepspeed=s.deepspeed, ddp_find_unused_parameters=False,
        disable_tqdm=os.environ.get("LLASA_QUIET") == "1", save_only_model=False)


def _has_tensorboard() -> bool:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


def train_lm(s: LMTrainSettings) -> dict:
    """Run the LM recipe; returns a summary (steps, losses, throughput, output folders).

    Raises:
        InputError: bad settings or data. ModelLoadError: the model cannot be loaded.
    """
    from transformers import Trainer, set_seed

    from .lora import FRONTEND_FILE, apply_lora

    out = Path(s.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_dir = out / "checkpoints"
    main = int(os.environ.get("RANK", "0")) == 0
    set_seed(s.seed)
    probe = CodeShards(s.data.train) if s.data.train else None
    if probe is None:
        raise InputError("data.train is not set: give a folder from `llasa data prepare`")
    model, tok, pretrained = build_model(s, probe.codebook_size)
    # No KV cache in training: transformers derives the packed rows' block-diagonal mask from
    # position ids only when no cache is built (with one, packed sequences would leak).
    model.config.use_cache = False
    mask_eot = s.data.mask_template_eot
    if mask_eot is None:
        mask_eot = pretrained and not s.data.packing
    frontend = text_frontend(s, model)
    train_ds, eval_ds = build_datasets(s, tok, mask_eot, frontend)
    if s.lora.enabled:
        if s.model.init == "tiny" and main:  # tiny bases exist only here: keep it for merging
            model.save_pretrained(str(out / "base"))
            tok.save_pretrained(str(out / "base"))
        model = apply_lora(model, s.lora)
        model.peft_config["default"].base_model_name_or_path = (
            str((out / "base").resolve()) if s.model.init == "tiny" else s.model.init)
        if s.gradient_checkpointing:
            model.enable_input_require_grads()  # checkpointed blocks need a grad-carrying input
    if main:
        (out / "settings.json").write_text(json.dumps(to_dict(s), indent=2) + "\n")
    resume = latest_checkpoint(ckpt_dir, clean=main) if s.resume else None
    resume_step = int(resume.name.split("-")[1]) if resume else 0
    args = training_arguments(s, ckpt_dir, eval_ds is not None)
    trainer = Trainer(model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds,
                      data_collator=Collator(train_ds.builder.pad_id), processing_class=tok,
                      callbacks=_callbacks(s, out, resume_step, train_ds.builder))
    if args.disable_tqdm:  # quiet: no per-log dict prints (metrics.csv has them)
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    t0 = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    wall = time.perf_counter() - t0
    final_eval = {}
    if eval_ds is not None:  # the eval of the last step, run now unless the schedule just did
        done = [h for h in trainer.state.log_history if "eval_loss" in h]
        final_eval = (done[-1] if done and done[-1]["step"] == trainer.state.global_step
                      else trainer.evaluate())
    target = out / ("adapter" if s.lora.enabled else "model")
    (model.get_base_model() if s.lora.enabled else model).config.use_cache = True
    trainer.save_model(str(target))
    if trainer.is_world_process_zero():
        tok.save_pretrained(str(target))
        if s.lora.enabled:  # the adapter has no model config: merge-lora reads the frontend here
            (target / FRONTEND_FILE).write_text(json.dumps({FRONTEND_KEY: frontend or None}) + "\n")
        MetricsLog(out / "metrics.csv").plot(out / "loss.png", ["loss", "eval_loss"],
                                             title="LM training")
    _close_process_group()
    st = trainer.state
    losses = [h["loss"] for h in st.log_history if "loss" in h]
    return {"step": st.global_step, "resumed_from": resume_step, "first_loss": losses[0]
            if losses else None, "last_loss": losses[-1] if losses else None,
            "train_loss": result.training_loss, "eval_loss": final_eval.get("eval_loss"),
            "tokens_seen": int(st.num_input_tokens_seen),
            "tokens_per_second": st.num_input_tokens_seen / wall if wall > 0 else None,
            "train_sequences": len(train_ds), "too_long": train_ds.num_too_long,
            "mask_template_eot": mask_eot, "text_frontend": frontend or None,
            "output": str(target)}


def _close_process_group() -> None:
    """Under torchrun, wait for every rank and shut the process group down before exit: a
    gloo group left open can abort a rank at interpreter exit ("terminate called without an
    active exception")."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
