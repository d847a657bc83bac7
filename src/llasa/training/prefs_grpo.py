"""GRPO for the speech LM: groups from the search engine, rewards from verifiers on audio.

Per prompt of a micro-batch: ``search(tts, text, voice, BestOfN(G, (reward,)), seed=...)``
samples G candidates with the fast batched decoder (one prefill, forked KV-cache rows; not
``generate``), decodes them with the codec and scores the audio with the reward verifiers (one
batched call each). Advantages are the rewards normalised within the group,
``A = (r - mean) / (std + 1e-4)``; a group whose rewards are all equal teaches nothing.
Loss, one policy update per sample (on-policy, so the PPO ratio is 1 and not clipped)::

    L = -mean_seq( sum_t [A * exp(lp_t - sg(lp_t)) - kl_beta * KL_t] / T_seq )
    KL_t = exp(ref_t - lp_t) - (ref_t - lp_t) - 1          (k3 estimator, per token)

with ``lp`` the policy's token log-probs at the sampling temperature and ``ref`` the reference
model's (the initial weights: a frozen copy, or the base with LoRA adapters disabled), computed
once per sampled group without gradients. Sampling seeds are ``f(seed, step, item)``, so a run
resumed after ``kill -9`` samples exactly what the uninterrupted run sampled.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch

from .prefs import pad_batch, pair_sequence, token_logps


class PromptDataset(torch.utils.data.Dataset):
    """Item indices of the preference folder (GRPO samples its own candidates)."""

    def __init__(self, n: int):
        self.n = int(n)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, k: int) -> dict:
        return {"item": k}

    @staticmethod
    def collate(items: list[dict]) -> dict:
        return {"item": torch.tensor([it["item"] for it in items], dtype=torch.long)}


class GRPOLoss:
    """The GRPO ``loss_fn`` of :class:`~llasa.training.prefs.PrefTrainer` (see the module
    docstring). ``bind(model)`` after LoRA wrapping, before training."""

    def __init__(self, s, data, tok, vocab, eot_id: int, pad_id: int):
        from ..codec.model import Codec
        from ..tts.defaults import default_model_dir
        from ..verifiers import VerifierRegistry

        self.s, self.data, self.tok, self.vocab = s, data, tok, vocab
        self.eot_id, self.pad_id = eot_id, pad_id
        self.reward = s.grpo.reward or data.plan["reward"]
        codec = s.grpo.codec or data.plan.get("codec") or default_model_dir() / "codec"
        self.codec = Codec.from_pretrained(codec, device="cpu")
        self.registry = VerifierRegistry()
        self.voices: dict = {}
        self.ref = None
        self.seconds = {"sample": 0.0, "verify": 0.0, "lm_tokens": 0}

    def bind(self, model) -> None:
        from ..lm.model import LlasaLM
        from ..tts import Llasa

        self.model = model
        self.lora = hasattr(model, "disable_adapter")
        if not self.lora:  # the reference: a frozen copy of the initial weights
            self.ref = copy.deepcopy(model).eval().requires_grad_(False)
        net = model.get_base_model() if self.lora else model
        self.lm = LlasaLM(net, self.tok)
        self.tts = Llasa(self.lm, self.codec)
        net.train()

    def _voice(self, it: dict):
        if not it.get("prompt_wav"):
            return None
        key = (it["prompt_wav"], it["prompt_text"])
        if key not in self.voices:
            self.voices[key] = self.tts.voice_from_audio(it["prompt_wav"], it["prompt_text"])
        return self.voices[key]

    def sample(self, item: int, seed: int):
        """G candidates of ``item``: (codes list, ended list, rewards [G], compute)."""
        from ..search import BestOfN, search

        it = self.data.items[item]
        net = self.lm.model
        was = net.training
        net.eval()
        sampling = {} if self.s.grpo.temperature is None else {
            "temperature": self.s.grpo.temperature}
        try:
            res = search(self.tts, it["text"], self._voice(it),
                         BestOfN(self.s.grpo.group_size, (self.reward,)),
                         registry=self.registry, language=it.get("language", "en"),
                         seed=seed, **sampling)
        finally:
            net.train(was)
        c = res.compute
        self.seconds["sample"] += c.lm_seconds
        self.seconds["verify"] += c.verifier_seconds
        self.seconds["lm_tokens"] += c.lm_tokens
        return ([x.codes for x in res.candidates], [x.ended for x in res.candidates],
                np.array([x.rank_score for x in res.candidates], np.float64))

    def temperature(self) -> float:
        t = self.s.grpo.temperature
        return float(t if t is not None else self.tts.default_settings.temperature)

    def __call__(self, trainer, model, inputs) -> tuple[torch.Tensor, dict]:
        step = int(trainer.state.global_step)
        seqs, adv, rewards = [], [], []
        t0 = time.perf_counter()
        for item in inputs["item"].tolist():
            seed = (self.s.seed * 1_000_003 + step) * 100_003 + item
            codes, ended, r = self.sample(item, seed)
            prompt = self.data.prompts[item]
            a = (r - r.mean()) / (r.std() + 1e-4)
            for c, e, ai in zip(codes, ended, a):
                seqs.append(pair_sequence(self.vocab, self.eot_id, prompt, c, e))
                adv.append(ai)
            rewards.append(r.mean())
        batch = pad_batch(seqs, self.pad_id)
        batch = {k: v.to(model.device) for k, v in batch.items()}
        temp = self.temperature()
        with torch.no_grad():
            if self.lora:
                with model.disable_adapter():
                    ref, _ = token_logps(model, batch, temp)
            else:
                ref, _ = token_logps(self.ref, batch, temp)
        lp, mask = token_logps(model, batch, temp)
        a = torch.tensor(adv, dtype=lp.dtype, device=lp.device).unsqueeze(-1)
        diff = (ref - lp) * mask
        kl = (torch.exp(diff) - diff - 1) * mask
        per_tok = a * torch.exp(lp - lp.detach()) - self.s.grpo.kl_beta * kl
        n = mask.sum(-1).clamp(min=1)
        loss = -(per_tok * mask).sum(-1).div(n).mean()
        stats = {"reward": float(np.mean(rewards)), "kl": (kl.sum(-1) / n).mean().item(),
                 "chosen_logp": ((lp.sum(-1)) / n).mean().item(),
                 "sample_seconds": time.perf_counter() - t0}
        return loss, stats
