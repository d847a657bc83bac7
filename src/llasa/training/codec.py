"""Codec GAN recipe: train or fine-tune X-codec2 (``llasa train codec --config RECIPE.yaml``).

The generator is transformers' ``Xcodec2Model`` itself (plus our training-only
:class:`~llasa.codec.semantic_head.SemanticHead`); the discriminators and losses are
:mod:`llasa.codec.discriminators` and :mod:`llasa.codec.losses`.

Features:
    - multi-period (2, 3, 5, 7, 11) + multi-resolution spectral discriminators, LSGAN;
    - generator loss = 15 · multi-scale mel L1 + adversarial + feature matching
      + 5 · semantic MSE (the semantic branch is optional; weights configurable);
    - separate AdamW optimizers (betas 0.8, 0.9), gradient clipping, the recipe's quadratic
      warm-up / linear decay lr; discriminator step first, then generator step;
    - frozen semantic (w2v-BERT) encoder, kept in eval mode;
    - mixed precision on CUDA (bf16 autocast, or fp16 with gradient scalers);
    - exact resume (weights, optimizers, schedulers, scalers, RNG, data position) from atomic
      checkpoints; metrics CSV + loss PNG; the final generator in the transformers layout,
      loadable by ``llasa.codec.Codec.from_pretrained``.

Why not accelerate (the LM trainer uses HF ``Trainer``): ``Accelerator.save_state`` writes the
optimizer, scheduler, grad-scaler and RNG states with ``torch.save`` (pickle; accelerate 1.15
``checkpointing.save_accelerator_state``, ``safe_serialization=False``) and loads them back with
``weights_only=False``, so a resume would unpickle files. Our checkpoints
(:mod:`llasa.training.checkpoint`) are safetensors + JSON and never unpickle anything; keep that
property. The rest accelerate would give is small here: one device, two optimizers stepped in
turn (discriminator, then generator), ``torch.autocast`` and two ``GradScaler`` objects.

Raises:
    InputError: bad settings, no usable audio, fp16 without CUDA.
    ModelLoadError: the model to fine-tune or a checkpoint cannot be loaded.
"""

from __future__ import annotations

import json
import shutil
import time
from contextlib import nullcontext
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from .._common.config import to_dict
from .._common.device import resolve_device
from .._common.errors import InputError
from .._common.log import get_logger, progress
from ..codec.config import SAMPLE_RATE
from ..codec.discriminators import CodecDiscriminator
from ..codec.losses import (MultiScaleMelLoss, discriminator_loss, feature_matching_loss,
                            fsq_bound_penalty, generator_adversarial_loss, semantic_loss)
from ..codec.semantic_head import SemanticHead
from .checkpoint import CheckpointManager
from .codec_config import CodecTrainSettings
from .codec_data import AudioCropDataset, StreamSampler, collate, list_audio_files, usable_files
from .codec_model import build_generator
from .metrics import MetricsLog
from .schedule import WarmupDecay, warmup_decay_scheduler

log = get_logger(__name__)
_PLOT_KEYS = ["loss_g", "mel", "adv", "fm", "semantic", "fsq", "loss_d"]


class CodecTrainer:
    """Recipe with ``setup`` / ``train`` / ``save_checkpoint`` / ``save_model`` / ``cleanup``.

    Args:
        settings: a :class:`CodecTrainSettings` (see ``codec_config`` presets).
    """

    def __init__(self, settings: CodecTrainSettings):
        self.s = settings
        self.out = Path(settings.output_dir)
        self.step = 0
        self.history: list[dict] = []

    # ---- setup ------------------------------------------------------------------------------
    def setup(self) -> "CodecTrainer":
        s = self.s
        self.device = resolve_device(s.device)
        self.amp_dtype = self._amp_dtype()
        self.out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(s.seed)
        self.files, self.skipped = self._files()
        self.model = build_generator(s.model, s.seed).to(self.device)
        self.model.semantic_encoder.requires_grad_(False)
        cfg = self.model.config
        self.head = (SemanticHead(cfg.quantization_dim, cfg.semantic_model_config.hidden_size)
                     .to(self.device) if s.model.semantic_head else None)
        self.disc = CodecDiscriminator(s.discriminator).to(self.device)
        self.mel_loss = MultiScaleMelLoss(SAMPLE_RATE, s.loss.mel_windows, s.loss.mel_bins
                                          ).to(self.device)
        self._semantic: dict[str, torch.Tensor] = {}
        # the encoder's own semantic features are the target: capture them, don't rerun w2v-BERT
        self._hook = self.model.semantic_encoder.register_forward_hook(
            lambda m, a, out: self._semantic.__setitem__("target", out.last_hidden_state))
        self._fsq_hook = self.model.quantizer.project_in.register_forward_hook(
            lambda m, a, out: self._semantic.__setitem__("fsq_in", out)) \
            if s.loss.fsq_bound_weight > 0 else None
        o = s.optim
        g_params = [p for p in self.model.parameters() if p.requires_grad]
        if self.head is not None:
            g_params += list(self.head.parameters())
        self.opt_g = torch.optim.AdamW(g_params, lr=1.0, betas=o.betas,
                                       weight_decay=o.weight_decay)
        self.opt_d = torch.optim.AdamW(self.disc.parameters(), lr=1.0, betas=o.betas,
                                       weight_decay=o.weight_decay)
        lr = WarmupDecay(o.start_lr, o.peak_lr, o.final_lr, o.warmup_steps, o.decay_steps)
        self.sched_g = warmup_decay_scheduler(self.opt_g, lr)
        self.sched_d = warmup_decay_scheduler(self.opt_d, WarmupDecay(**to_dict(lr)))
        fp16 = self.amp_dtype == torch.float16
        self.scaler_g = torch.amp.GradScaler(self.device.type, enabled=fp16)
        self.scaler_d = torch.amp.GradScaler(self.device.type, enabled=fp16)
        self.ckpt = CheckpointManager(self.out / "checkpoints", keep_last=s.keep_last)
        self.metrics = MetricsLog(self.out / "metrics.csv")
        latest = self.ckpt.latest() if s.resume else None
        if latest is not None:
            info = self.ckpt.load(latest, device=self.device, **self._stateful())
            self.step = info["step"]
            log.info("resumed from %s (step %d)", latest, self.step)
        self.metrics.truncate(self.step)
        loader_gen = torch.Generator().manual_seed(s.seed)  # keeps the global RNG untouched
        self.loader = DataLoader(
            AudioCropDataset(self.files, s.data.crop_samples), batch_size=s.data.batch_size,
            sampler=StreamSampler(len(self.files), s.seed, self.step * s.data.batch_size),
            collate_fn=collate, num_workers=s.data.num_workers, generator=loader_gen,
            persistent_workers=s.data.num_workers > 0)
        (self.out / "settings.json").write_text(json.dumps(to_dict(s), indent=2) + "\n")
        return self

    def _amp_dtype(self) -> torch.dtype | None:
        p, cuda = self.s.precision, self.device.type == "cuda"
        if p == "auto":
            return torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else None
        if p == "fp16" and not cuda:
            raise InputError("precision fp16 needs a CUDA GPU; use fp32 or bf16 on CPU")
        return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[p]

    def _files(self):
        files, skipped = usable_files(list_audio_files(self.s.data.train), self.s.data.min_seconds)
        for sk in skipped:
            log.warning("skipping %s: %s", sk["path"], sk["reason"])
        if not files:
            raise InputError(f"none of the audio files in {self.s.data.train} is usable: "
                             + "; ".join(f"{k['path']}: {k['reason']}" for k in skipped[:5]))
        return files, skipped

    def _stateful(self) -> dict:
        modules = {"generator": self.model, "discriminator": self.disc}
        if self.head is not None:
            modules["semantic_head"] = self.head
        return {"modules": modules,
                "optimizers": {"generator": self.opt_g, "discriminator": self.opt_d},
                "schedulers": {"generator": self.sched_g, "discriminator": self.sched_d},
                "scalers": {"generator": self.scaler_g, "discriminator": self.scaler_d}}

    # ---- training ---------------------------------------------------------------------------
    def _autocast(self):
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _train_mode(self) -> None:
        self.model.train()
        self.model.semantic_encoder.eval()  # frozen, as in the recipe: no dropout either
        self.disc.train()
        if self.head is not None:
            self.head.train()

    def generate(self, wav: torch.Tensor, feats: torch.Tensor):
        """Encode → quantise → decode.

        Args:
            wav: [b, 1, l] crops; feats: [b, t, 160] w2v-BERT inputs (l = 320 · t).

        Returns:
            (y_hat [b, 1, l], predicted semantic [b, s, t] or None, target semantic [b, s, t]).
        """
        enc = self.model.encode(wav, input_features=feats, output_latents=True)
        y_hat = self.model.decode(latents=enc.latents).audio_values
        target = self._semantic.pop("target").transpose(1, 2)  # [b, t, s] → [b, s, t]
        pred = self.head(enc.latents) if self.head is not None else None
        return y_hat, pred, target

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One discriminator update (only when a GAN weight is on), then one generator update.
        Returns the step's metrics."""
        w = self.s.loss
        wav = batch["wav"].to(self.device)
        feats = batch["features"].to(self.device)
        with self._autocast():
            y_hat, sem_pred, sem_target = self.generate(wav, feats)
        # mel-only training (both GAN weights 0) skips the discriminators: they would cost
        # about half the step and change nothing
        gan = w.adversarial_weight > 0 or w.feature_matching_weight > 0
        loss_d = adv = fm = None
        gn_d = None
        if gan:  # discriminator: real → 1, generated (detached) → 0
            self.disc.requires_grad_(True)
            with self._autocast():
                loss_d = discriminator_loss(self.disc(wav), self.disc(y_hat.detach()))
            gn_d = self._update(loss_d, self.opt_d, self.scaler_d, self.disc.parameters())
            self.sched_d.step()
        # generator: fool the (just updated) discriminator, match its features and the mels
        self.disc.requires_grad_(False)
        with self._autocast():
            mel = self.mel_loss(y_hat, wav)
            loss_g = w.mel_weight * mel
            if gan:
                fake = self.disc(y_hat)
                with torch.no_grad():
                    real = self.disc(wav)
                adv = generator_adversarial_loss(fake)
                fm = feature_matching_loss(real, fake)
                loss_g = loss_g + w.adversarial_weight * adv + w.feature_matching_weight * fm
            fsq_in = self._semantic.pop("fsq_in", None)
            fsq = fsq_bound_penalty(fsq_in, w.fsq_bound_margin) if fsq_in is not None else None
            if fsq is not None:
                loss_g = loss_g + w.fsq_bound_weight * fsq
            sem = None
            if sem_pred is not None:
                sem = semantic_loss(sem_pred, sem_target)
                loss_g = loss_g + w.semantic_weight * sem
        lr_g = self.opt_g.param_groups[0]["lr"]
        gn_g = self._update(loss_g, self.opt_g, self.scaler_g,
                            [p for g in self.opt_g.param_groups for p in g["params"]])
        self.sched_g.step()
        self.step += 1
        def item(t):
            return t.item() if t is not None else None

        row = {"step": self.step, "loss_g": loss_g.item(), "mel": mel.item(), "adv": item(adv),
               "fm": item(fm), "semantic": item(sem), "loss_d": item(loss_d),
               "grad_norm_g": gn_g, "grad_norm_d": gn_d, "lr": lr_g}
        if fsq is not None:
            row["fsq"] = fsq.item()
        if not all(torch.isfinite(torch.tensor(v)) for k, v in row.items() if v is not None):
            raise FloatingPointError(f"non-finite loss at step {self.step}: {row} "
                                     "(lower optim.peak_lr or use precision fp32)")
        return row

    def _update(self, loss, opt, scaler, params) -> float:
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        norm = torch.nn.utils.clip_grad_norm_(list(params), self.s.optim.grad_clip)
        scaler.step(opt)
        scaler.update()
        return float(norm)

    def train(self) -> dict:
        """Run until ``max_steps``; checkpoint every ``save_every`` steps and at the end.

        Returns:
            summary: ``{"step", "last": metrics row, "audio_seconds_per_second", "steps_per_second",
            "model_dir", "skipped"}`` (throughput excludes the first step of this run).
        """
        s = self.s
        self._train_mode()
        audio_per_step = s.data.batch_size * s.data.crop_samples / SAMPLE_RATE
        it = iter(self.loader)
        bar = progress(total=s.max_steps, initial=self.step, desc="codec", unit="step")
        times: list[float] = []
        row = {}
        while self.step < s.max_steps:
            t0 = time.perf_counter()
            row = self.train_step(next(it))
            dt = time.perf_counter() - t0
            times.append(dt)
            row["seconds"] = dt
            row["audio_s_per_s"] = audio_per_step / dt
            self.metrics.append(row)
            self.history.append(row)
            bar.update(1)
            shown = {"mel": f"{row['mel']:.3f}", "g": f"{row['loss_g']:.2f}"}
            if row["loss_d"] is not None:
                shown["d"] = f"{row['loss_d']:.2f}"
            if row.get("fsq") is not None:
                shown["fsq"] = f"{row['fsq']:.3f}"
            bar.set_postfix(**shown)
            if self.step % s.save_every == 0 or self.step == s.max_steps:
                self.save_checkpoint()
        bar.close()
        steady = times[1:] or times
        sec = sum(steady) / len(steady) if steady else float("nan")
        model_dir = self.save_model()
        return {"step": self.step, "last": row, "steps_per_second": 1 / sec if steady else 0.0,
                "audio_seconds_per_second": audio_per_step / sec if steady else 0.0,
                "model_dir": str(model_dir), "skipped": self.skipped}

    # ---- saving -----------------------------------------------------------------------------
    def save_checkpoint(self) -> Path:
        """Atomic checkpoint of everything needed to resume exactly (and the loss PNG)."""
        path = self.ckpt.save(self.step, state={"sample": self.step * self.s.data.batch_size},
                              **self._stateful())
        if self.s.plot:
            self.metrics.plot(self.out / "loss.png", _PLOT_KEYS, title="codec training")
        return path

    def save_model(self, directory: str | Path | None = None) -> Path:
        """The generator in the transformers layout (config.json + model.safetensors), written
        to a temporary folder and renamed into place. Default: ``<output_dir>/model``."""
        final = Path(directory) if directory else self.out / "model"
        tmp = final.with_name(f".{final.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        self.model.save_pretrained(str(tmp), safe_serialization=True)
        if final.exists():
            shutil.rmtree(final)
        tmp.replace(final)
        return final

    def cleanup(self) -> None:
        self._hook.remove()
        if self._fsq_hook is not None:
            self._fsq_hook.remove()
        self.loader = None


def train_codec(settings: CodecTrainSettings) -> dict:
    """Set up, train and clean up; returns :meth:`CodecTrainer.train`'s summary."""
    trainer = CodecTrainer(settings).setup()
    try:
        return trainer.train()
    finally:
        trainer.cleanup()
