"""SFT on each item's best candidate (``llasa train prefs --method sft``): rejection-sampling
fine-tuning, the plainest way to distil best-of-N into the model. One sequence per item, in the
official layout of :func:`~llasa.training.prefs.pair_sequence`, with the loss on its speech
tokens + END; no pairs and no reference model."""

from __future__ import annotations

import torch

from ..lm.tokens import SpeechVocab
from .prefs import PreferenceData, pad_batch, pair_sequence, token_logps


class BestDataset(torch.utils.data.Dataset):
    """SFT items: each item's best candidate by reward (items whose rewards are all NaN are
    skipped)."""

    def __init__(self, data: PreferenceData, vocab: SpeechVocab, eot_id: int):
        self.data, self.vocab, self.eot_id = data, vocab, eot_id
        self.best = data.best_candidates()

    def __len__(self) -> int:
        return len(self.best)

    def __getitem__(self, k: int) -> dict:
        d, c = self.data, int(self.best[k])
        return {"seqs": [pair_sequence(self.vocab, self.eot_id, d.prompts[d.cand_item[c]],
                                       d.codes[c], bool(d.ended[c]))], "ref": None}


class SeqCollator:
    """One padded batch [b, L] of single sequences."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, items: list[dict]) -> dict:
        return pad_batch([it["seqs"][0] for it in items], self.pad_id)


def sft_loss(model, batch: dict) -> tuple[torch.Tensor, dict]:
    """Per-token NLL of the best candidates, averaged per sequence, then over the batch."""
    lp, mask = token_logps(model, batch)
    per = lp.sum(-1) / mask.sum(-1).clamp(min=1)
    return -per.mean(), {"chosen_logp": per.mean().item()}
