"""The numpy sampler (ONNX engine) keeps the torch sampler's distribution, option by option."""

import numpy as np
import pytest
import torch

from llasa.lm import np_sampling
from llasa.lm import sampling as torch_sampling
from llasa.lm.settings import GenerationSettings

CASES = [
    dict(temperature=0.8, top_k=50),
    dict(temperature=0.5, top_k=0),
    dict(temperature=1.0, top_k=0, top_p=0.9),
    dict(temperature=0.7, top_k=20, top_p=0.8, min_p=0.05),
    dict(temperature=1.3, top_k=0, min_p=0.1),
    dict(temperature=0.9, top_k=8, repetition_penalty=1.3),
]


def _dense(probs, idx, v):
    out = np.zeros(v)
    np.add.at(out, np.asarray(idx).reshape(-1), np.asarray(probs, np.float64).reshape(-1))
    return out


@pytest.mark.parametrize("case", CASES, ids=[str(c) for c in CASES])
def test_same_distribution_as_torch(case):
    rng = np.random.default_rng(0)
    v = 300
    logits = (rng.standard_normal(v) * 3).astype(np.float32)
    logits[5] = -np.inf  # a masked id stays impossible
    hist = np.array([1, 7, 7, 40, -1])
    s = GenerationSettings(**case)
    lt = torch_sampling.apply_repetition_penalty(torch.from_numpy(logits)[None],
                                                 torch.from_numpy(hist)[None],
                                                 s.repetition_penalty)
    pt, it = torch_sampling.candidates(lt, s)
    ln = np_sampling.apply_repetition_penalty(logits, hist, s.repetition_penalty)
    np.testing.assert_allclose(ln, lt[0].numpy(), rtol=1e-6)
    pn, inn = np_sampling.candidates(ln, s)
    np.testing.assert_allclose(_dense(pn, inn, v), _dense(pt[0].numpy(), it[0].numpy(), v),
                               atol=1e-5)


def test_greedy_is_argmax_and_seeded_draws_repeat():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal(100).astype(np.float32)
    greedy = GenerationSettings(do_sample=False)
    assert np_sampling.choose(logits, greedy, None, rng) == int(np.argmax(logits))
    s = GenerationSettings(temperature=1.0, top_k=0)
    a = [np_sampling.choose(logits, s, None, np.random.default_rng(3)) for _ in range(3)]
    draws = [np_sampling.choose(logits, s, None, g) for g in [np.random.default_rng(3)] * 200]
    assert len(set(a)) == 1
    assert len(set(draws)) > 10  # it samples, not argmax


def test_draws_follow_the_probabilities():
    logits = np.log(np.array([0.7, 0.2, 0.1, 0.0], np.float32) + 1e-30)
    s = GenerationSettings(temperature=1.0, top_k=0)
    g = np.random.default_rng(0)
    counts = np.bincount([np_sampling.choose(logits, s, None, g) for _ in range(4000)],
                         minlength=4)
    assert counts[3] == 0
    np.testing.assert_allclose(counts[:3] / 4000, [0.7, 0.2, 0.1], atol=0.03)
