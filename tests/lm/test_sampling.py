import math

import pytest
import torch

from llasa._common.errors import InputError
from llasa.lm.sampling import (GenerationSettings, apply_repetition_penalty,
                               max_new_tokens_for_text, warp)


def test_defaults_follow_the_model_card():
    s = GenerationSettings()
    assert (s.temperature, s.top_p, s.top_k, s.repetition_penalty, s.do_sample) == (
        0.8, 1.0, 50, 1.0, True)


@pytest.mark.parametrize("kw,msg", [
    ({"temperature": 0}, "temperature"), ({"temperature": -1.0}, "temperature"),
    ({"temperature": float("nan")}, "temperature"), ({"top_p": 0}, "top_p"),
    ({"top_p": 1.5}, "top_p"), ({"top_k": -1}, "top_k"), ({"min_p": 1.0}, "min_p"),
    ({"repetition_penalty": 0.5}, "repetition_penalty"), ({"repetition_window": -2}, "window"),
    ({"max_new_tokens": 0}, "max_new_tokens"), ({"seed": "x"}, "seed")])
def test_bad_settings_are_input_errors(kw, msg):
    with pytest.raises(InputError, match=msg):
        GenerationSettings(**kw)


def test_warpers_match_transformers():
    from transformers.generation.logits_process import (MinPLogitsWarper,
                                                        TemperatureLogitsWarper,
                                                        TopKLogitsWarper, TopPLogitsWarper)

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 500, generator=g) * 3
    for s in [GenerationSettings(temperature=0.7, top_k=20, top_p=0.9),
              GenerationSettings(temperature=1.3, top_k=0, top_p=0.5, min_p=0.05),
              GenerationSettings(top_k=5)]:
        ref = TemperatureLogitsWarper(s.temperature)(None, logits.clone())
        if s.top_k:
            ref = TopKLogitsWarper(s.top_k)(None, ref)
        if s.top_p < 1:
            ref = TopPLogitsWarper(s.top_p)(None, ref)
        if s.min_p:
            ref = MinPLogitsWarper(s.min_p)(None, ref)
        ours = warp(logits.clone(), s)
        assert torch.equal(torch.isinf(ours), torch.isinf(ref)), s
        torch.testing.assert_close(ours.softmax(-1), ref.softmax(-1))


def test_repetition_penalty_matches_transformers():
    from transformers.generation.logits_process import RepetitionPenaltyLogitsProcessor

    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 50, generator=g)
    hist = torch.tensor([[3, 7, 7, 0], [-1, -1, 9, 49]])  # -1 = empty slot
    ours = apply_repetition_penalty(logits.clone(), hist, 1.3)
    ref0 = RepetitionPenaltyLogitsProcessor(1.3)(hist[:1], logits[:1].clone())
    ref1 = RepetitionPenaltyLogitsProcessor(1.3)(hist[1:, 2:], logits[1:].clone())
    torch.testing.assert_close(ours, torch.cat([ref0, ref1]))
    assert ours[1, 0] == logits[1, 0]  # empty slots touch nothing


def test_length_cap_grows_with_text():
    assert max_new_tokens_for_text(0) == 100
    assert max_new_tokens_for_text(50) == math.ceil(50 * (2 + 50 / 5))
    assert max_new_tokens_for_text(50, prompt_codes=200) == 600 - 200
    assert max_new_tokens_for_text(5, prompt_codes=10_000) == 100  # never below 2 s


def test_top_k_first_gives_the_same_distribution_as_warp():
    from llasa.lm.sampling import candidates

    g = torch.Generator().manual_seed(2)
    logits = torch.randn(4, 3000, generator=g) * 2
    logits[:, 7] = -math.inf  # masked ids stay impossible
    for s in [GenerationSettings(), GenerationSettings(top_k=100, top_p=0.8, min_p=0.02),
              GenerationSettings(top_k=0, top_p=0.9)]:
        probs, idx = candidates(logits, s)
        full = torch.zeros_like(logits).scatter(1, idx, probs)
        torch.testing.assert_close(full, warp(logits, s).softmax(-1))
        assert full[:, 7].eq(0).all()
