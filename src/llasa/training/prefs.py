"""Preference training of the speech LM (``llasa train prefs``): DPO, GRPO or SFT on the best
candidates (rejection sampling), on HF ``Trainer``.

Why not trl: trl 1.16 installs without another torch (it has no torch requirement, but pulls
datasets, pyarrow and pandas), yet neither trainer fits. ``DPOTrainer`` tokenises text
prompt/chosen/rejected columns of a ``datasets.Dataset`` itself, while our sequences are token
ids in the official layout with the loss on the speech tokens + END only. ``GRPOTrainer``
samples with ``model.generate`` (or vLLM) and hands reward functions decoded *text*; our reward
needs audio decoded by the codec and groups sampled by our batched decoder. So the losses are
small ``compute_loss`` functions on the same HF ``Trainer`` as ``llasa train lm`` (LoRA via
peft, checkpoints, exact resume after ``kill -9``).

Sequences (:func:`pair_sequence`): the stored inference prompt (official chat layout, ending
with SPEECH_GENERATION_START + the voice's codes) + the candidate's speech tokens + END (when it
ended) + ``<|eot_id|>``; labels only on the candidate's speech tokens and END.

DPO: ``-log σ(β [(π_c - ref_c) - (π_r - ref_r)]) + sft_weight · NLL_c / tokens_c`` with sums
of token log-probs. The reference log-probs are computed once, before training, and cached in
``ref_logps.npy`` (keyed by data + init), so the reference model is never held during training.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from .._common.config import to_dict
from .._common.errors import InputError
from .._common.log import get_logger, progress
from ..lm.tokens import SpeechVocab
from .lm_data import IGNORE
from .metrics import MetricsLog
from .prefs_config import PrefTrainSettings

log = get_logger(__name__)
_FIELDS = ["step", "loss", "margin", "accuracy", "chosen_logp", "reward", "kl", "lr",
           "grad_norm"]


# ---- data ---------------------------------------------------------------------------------
class PreferenceData:
    """Reads a folder of ``llasa data preferences`` (see :mod:`llasa.training.prefs_data`).

    Attributes:
        items: per item its meta (utt, text, prompt_wav, prompt_text, seed, compute).
        prompts: per item the prompt ids (int64 [p]).
        codes, reward, ended, cand_item: per candidate.
        pairs: int64 [n, 2] global (chosen, rejected) candidate indices.
        plan: the generation settings.
    """

    def __init__(self, root: str | Path):
        root = Path(root)
        if not (root / "plan.json").is_file():
            raise InputError(f"{root} is not a preference folder (no plan.json): make one with "
                             "`llasa data preferences`")
        self.root, self.plan = root, json.loads((root / "plan.json").read_text())
        shards = sorted(p for p in root.glob("shard-*") if (p / "meta.json").is_file())
        if not shards:
            raise InputError(f"{root} has no finished shard yet")
        self.items, self.prompts, self.codes, cand_item, reward, ended, pairs = \
            [], [], [], [], [], [], []
        for p in shards:
            meta = json.loads((p / "meta.json").read_text())
            a = {k: np.load(p / f"{k}.npy") for k in ("prompt_ids", "prompt_offsets", "codes",
                                                     "code_offsets", "cand_item", "reward",
                                                     "ended", "pairs")}
            i0, c0 = len(self.items), len(self.codes)
            self.items += meta["items"]
            po, co = a["prompt_offsets"], a["code_offsets"]
            self.prompts += [a["prompt_ids"][po[k]:po[k + 1]].astype(np.int64)
                             for k in range(len(po) - 1)]
            self.codes += [a["codes"][co[k]:co[k + 1]].astype(np.int64)
                           for k in range(len(co) - 1)]
            cand_item.append(a["cand_item"].astype(np.int64) + i0)
            reward.append(a["reward"])
            ended.append(a["ended"])
            pairs.append(a["pairs"].astype(np.int64) + c0)
        self.cand_item, self.reward = np.concatenate(cand_item), np.concatenate(reward)
        self.ended, self.pairs = np.concatenate(ended), np.concatenate(pairs).reshape(-1, 2)
        self.fingerprint = hashlib.sha256(
            json.dumps([self.plan, [p.name for p in shards]], sort_keys=True).encode()
        ).hexdigest()[:16]


    def best_candidates(self) -> np.ndarray:
        """Each item's best candidate (global index) by reward; items with no finite reward
        are left out."""
        out = []
        for item in np.unique(self.cand_item):
            idx = np.nonzero(self.cand_item == item)[0]
            r = self.reward[idx]
            if not np.isnan(r).all():
                out.append(idx[int(np.nanargmax(r))])
        return np.asarray(out, np.int64)

    def best_vs_rest(self, margin: float) -> np.ndarray:
        """Pairs (best, other) of each item for every other candidate at least ``margin``
        below the best: up to N - 1 pairs per item from the stored scores, not just the
        best/worst pair (more signal from the same search compute)."""
        out = []
        for best in self.best_candidates():
            idx = np.nonzero(self.cand_item == self.cand_item[best])[0]
            out += [(best, j) for j in idx
                    if j != best and self.reward[best] - self.reward[j] >= margin]
        return np.asarray(out, np.int64).reshape(-1, 2)


def pair_sequence(vocab: SpeechVocab, eot_id: int, prompt: np.ndarray, codes: np.ndarray,
                  ended: bool) -> tuple[np.ndarray, np.ndarray]:
    """(input_ids [l], labels [l]) of prompt + speech tokens (+ END) + eot; labels -100 except
    on the speech tokens and END."""
    target = vocab.code_to_id(np.asarray(codes, np.int64)).tolist() + \
        ([vocab.speech_end] if ended else [])
    ids = np.asarray(list(prompt) + target + [eot_id], np.int64)
    labels = np.full(ids.shape, IGNORE, np.int64)
    labels[len(prompt): len(prompt) + len(target)] = target
    return ids, labels


def pad_batch(seqs: list[tuple[np.ndarray, np.ndarray]], pad_id: int) -> dict:
    """Right-pad (ids, labels) pairs: ``input_ids``, ``labels``, ``attention_mask`` [b, L]."""
    n = max(len(s[0]) for s in seqs)
    ids = np.full((len(seqs), n), pad_id, np.int64)
    lab = np.full((len(seqs), n), IGNORE, np.int64)
    mask = np.zeros((len(seqs), n), np.int64)
    for k, (a, b) in enumerate(seqs):
        ids[k, :len(a)], lab[k, :len(b)], mask[k, :len(a)] = a, b, 1
    return {"input_ids": torch.from_numpy(ids), "labels": torch.from_numpy(lab),
            "attention_mask": torch.from_numpy(mask)}


def token_logps(model, batch: dict, temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token log-probs of the labelled tokens: (logp [b, L-1] zero where unlabelled,
    mask [b, L-1] float)."""
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    logits = out.logits[:, :-1].float() / temperature
    labels = batch["labels"][:, 1:]
    mask = labels != IGNORE
    lp = torch.log_softmax(logits, -1).gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return lp * mask, mask.float()


class PairDataset(torch.utils.data.Dataset):
    """DPO items: a pair's chosen and rejected sequences + their cached reference log-probs."""

    def __init__(self, data: PreferenceData, vocab: SpeechVocab, eot_id: int,
                 ref: np.ndarray | None = None):
        self.data, self.vocab, self.eot_id, self.ref = data, vocab, eot_id, ref

    def __len__(self) -> int:
        return len(self.data.pairs)

    def sequences(self, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        d = self.data
        return [pair_sequence(self.vocab, self.eot_id, d.prompts[d.cand_item[c]], d.codes[c],
                              bool(d.ended[c])) for c in d.pairs[k]]

    def __getitem__(self, k: int) -> dict:
        return {"seqs": self.sequences(k), "ref": None if self.ref is None else self.ref[k]}


class PairCollator:
    """Stacks [chosen_1..chosen_b, rejected_1..rejected_b] into one padded batch [2b, L]."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, items: list[dict]) -> dict:
        seqs = [it["seqs"][0] for it in items] + [it["seqs"][1] for it in items]
        out = pad_batch(seqs, self.pad_id)
        if items[0]["ref"] is not None:
            ref = np.asarray([it["ref"] for it in items], np.float64)  # [b, 2]
            out["ref"] = torch.from_numpy(np.concatenate([ref[:, 0], ref[:, 1]])).float()
        return out


def reference_logps(model, ds: PairDataset, pad_id: int, cache: Path, key: str,
                    batch_size: int = 8) -> np.ndarray:
    """Sum of reference token log-probs [pairs, 2] (chosen, rejected), from ``cache`` when it
    was written for ``key`` (data + init), else computed once (no grad) and cached."""
    meta = cache.with_suffix(".json")
    if cache.is_file() and meta.is_file() and json.loads(meta.read_text()).get("key") == key:
        return np.load(cache)
    was = model.training
    model.eval()
    out = np.zeros((len(ds), 2), np.float64)
    coll = PairCollator(pad_id)
    with torch.no_grad():
        for s in progress(range(0, len(ds), batch_size), desc="reference log-probs"):
            idx = list(range(s, min(len(ds), s + batch_size)))
            lp, _ = token_logps(model, coll([ds[k] for k in idx]))
            tot = lp.sum(-1).double().numpy()
            out[idx, 0], out[idx, 1] = tot[:len(idx)], tot[len(idx):]
    model.train(was)
    np.save(cache, out)
    meta.write_text(json.dumps({"key": key}) + "\n")
    return out


def dpo_loss(model, batch: dict, beta: float, sft_weight: float) -> tuple[torch.Tensor, dict]:
    """The DPO (+ optional SFT) loss of a [2b, L] pair batch and its logged statistics."""
    lp, mask = token_logps(model, batch)
    tot, n = lp.sum(-1), mask.sum(-1)
    b = tot.shape[0] // 2
    ref = batch["ref"].to(tot.dtype)
    margin = (tot[:b] - ref[:b]) - (tot[b:] - ref[b:])
    loss = -torch.nn.functional.logsigmoid(beta * margin).mean()
    if sft_weight:
        loss = loss + sft_weight * (-tot[:b] / n[:b].clamp(min=1)).mean()
    stats = {"margin": margin.mean().item(), "accuracy": (margin > 0).float().mean().item(),
             "chosen_logp": (tot[:b] / n[:b].clamp(min=1)).mean().item()}
    return loss, stats


# ---- the recipe ---------------------------------------------------------------------------
def _trainer_class():
    from transformers import Trainer

    class PrefTrainer(Trainer):
        """HF Trainer whose loss is DPO, GRPO or SFT; logs the methods' statistics."""

        def __init__(self, *a, loss_fn=None, **kw):
            super().__init__(*a, **kw)
            self.loss_fn, self._stats = loss_fn, {}

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss, stats = self.loss_fn(self, model, inputs)
            for k, v in stats.items():
                self._stats.setdefault(k, []).append(v)
            return loss

        def log(self, logs, *args, **kw):
            if "loss" in logs:
                logs.update({k: float(np.mean(v)) for k, v in self._stats.items()})
                self._stats = {}
            super().log(logs, *args, **kw)

    return PrefTrainer


def _callbacks(out: Path, resume_step: int):
    from transformers import TrainerCallback

    class Metrics(TrainerCallback):
        def __init__(self):
            self.log = MetricsLog(out / "metrics.csv")

        def on_train_begin(self, args, state, control, **kw):
            self.log.truncate(resume_step)

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                row = {"step": state.global_step, "lr": logs.get("learning_rate"), **logs}
                self.log.append({k: row.get(k) for k in _FIELDS})

        def on_save(self, args, state, control, **kw):
            self.log.plot(out / "loss.png", ["loss", "margin"], title="preference training")

    return [Metrics()]


def load_policy(s: PrefTrainSettings):
    """(LlamaForCausalLM in fp32, tokenizer) of ``s.init`` (None: the shipped LM)."""
    from transformers import AutoTokenizer, LlamaForCausalLM

    from .._common.errors import ModelLoadError
    from .._common.hub import resolve
    from ..tts.defaults import default_model_dir

    path = resolve(s.init) if s.init else default_model_dir() / "lm"
    try:
        tok = AutoTokenizer.from_pretrained(str(path))
        model = LlamaForCausalLM.from_pretrained(str(path), dtype=torch.float32)
    except (OSError, ValueError, KeyError) as e:
        raise ModelLoadError(f"cannot load a Llama LM from {path}: {e}") from None
    model.config.use_cache = False
    return model, tok, str(path)


def train_prefs(s: PrefTrainSettings) -> dict:
    """Run DPO, GRPO or SFT; returns a summary (steps, losses, margins, output folders).

    Raises:
        InputError: bad settings or data (e.g. a DPO folder without pairs).
    """
    from transformers import TrainingArguments, set_seed

    from .lm import latest_checkpoint
    from .lora import apply_lora

    out = Path(s.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    set_seed(s.seed)
    data = PreferenceData(s.data)
    model, tok, init_path = load_policy(s)
    vocab = SpeechVocab.from_tokenizer(tok)
    eot = tok.convert_tokens_to_ids("<|eot_id|>")
    pad = tok.pad_token_id if tok.pad_token_id is not None else eot
    if s.pairs == "best-vs-rest":
        data.pairs = data.best_vs_rest(data.plan["margin"])
    key = f"{data.fingerprint}:{s.pairs}:{init_path}"
    if s.method == "dpo":
        if not len(data.pairs):
            raise InputError(f"{s.data} holds no pairs (lower --margin when making it)")
        ds = PairDataset(data, vocab, eot)
        ds.ref = reference_logps(model, ds, pad, out / "ref_logps.npy", key)
        collate = PairCollator(pad)

        def loss_fn(trainer, m, inputs):
            return dpo_loss(m, inputs, s.beta, s.sft_weight)
    elif s.method == "sft":
        from .prefs_sft import BestDataset, SeqCollator, sft_loss

        ds = BestDataset(data, vocab, eot)
        if not len(ds):
            raise InputError(f"{s.data} holds no scored candidates")
        collate = SeqCollator(pad)

        def loss_fn(trainer, m, inputs):
            return sft_loss(m, inputs)
    else:
        from .prefs_grpo import GRPOLoss, PromptDataset

        ds = PromptDataset(len(data.items))
        collate = PromptDataset.collate
        loss_fn = GRPOLoss(s, data, tok, vocab, eot, pad)
    if s.lora.enabled:
        model = apply_lora(model, s.lora)
    if s.method == "grpo":
        loss_fn.bind(model)
    (out / "settings.json").write_text(json.dumps(to_dict(s), indent=2) + "\n")
    resume = latest_checkpoint(out / "checkpoints", clean=True) if s.resume else None
    resume_step = int(resume.name.split("-")[1]) if resume else 0
    args = TrainingArguments(
        output_dir=str(out / "checkpoints"), max_steps=s.max_steps,
        per_device_train_batch_size=s.batch_size, gradient_accumulation_steps=s.grad_accum,
        learning_rate=s.optim.lr, weight_decay=s.optim.weight_decay,
        adam_beta1=s.optim.betas[0], adam_beta2=s.optim.betas[1],
        warmup_steps=s.optim.warmup_ratio, lr_scheduler_type=s.optim.schedule,
        max_grad_norm=s.optim.grad_clip, optim=s.optim.optimizer,
        logging_steps=s.log_every or 10**9, save_strategy="steps" if s.save_every else "no",
        save_steps=s.save_every or 10**9, save_total_limit=s.keep_last, seed=s.seed,
        data_seed=s.seed, report_to=[], use_cpu=not torch.cuda.is_available(),
        remove_unused_columns=False, disable_tqdm=os.environ.get("LLASA_QUIET") == "1")
    trainer = _trainer_class()(model=model, args=args, train_dataset=ds, data_collator=collate,
                               processing_class=tok, callbacks=_callbacks(out, resume_step),
                               loss_fn=loss_fn)
    if args.disable_tqdm:
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    t0 = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    wall = time.perf_counter() - t0
    target = _save(model, tok, out, s.lora.enabled)
    MetricsLog(out / "metrics.csv").plot(out / "loss.png", ["loss", "margin"],
                                         title="preference training")
    hist = [h for h in trainer.state.log_history if "loss" in h]
    return {"method": s.method, "step": trainer.state.global_step, "resumed_from": resume_step,
            "first": hist[0] if hist else None, "last": hist[-1] if hist else None,
            "train_seconds": round(wall, 1),
            "pairs": int(len(data.pairs)) if s.method != "sft" else 0,
            "sequences": len(ds) if s.method == "sft" else None,
            "items": len(data.items), "output": str(target)}


def _save(model, tok, out: Path, lora: bool) -> Path:
    """Full run: ``model/``. LoRA: ``adapter/`` and the merged ``model/`` (loadable by
    ``Llasa.from_pretrained(lm=...)``)."""
    if lora:
        model.save_pretrained(str(out / "adapter"))
        tok.save_pretrained(str(out / "adapter"))
        model = model.merge_and_unload()
    model.config.use_cache = True
    model.save_pretrained(str(out / "model"))
    tok.save_pretrained(str(out / "model"))
    return out / "model"
