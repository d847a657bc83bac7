"""Continuous batching (llasa.lm.batcher) on a tiny real LM: staggered arrivals, equality with
requests run alone, cancellation, N-row requests, static (CUDA-graph-shaped) steps and the
batched device sampler."""

import numpy as np
import pytest
import torch

from llasa._common.errors import InputError
from llasa.lm import GenerationSettings
from llasa.lm.batcher import BatchRequest, ContinuousBatcher
from llasa.lm.device_sampling import sample_rows
from llasa.lm.graphs import StaticSteps, buckets_for
from llasa.lm.rowcache import RowKVCache
from llasa.lm.sampling import warp

TEXTS = ["Hello there friend", "A much longer sentence for the second request, really.",
         "Hi", "Numbers like twelve"]
GREEDY = GenerationSettings(do_sample=False, repetition_penalty=1.3, max_new_tokens=50)


def _run(b, prompts, settings, rows=None, every=5, stop_after=None, stops=None):
    """Submit request i at step i*every; step until all are done. Returns the requests."""
    reqs, done, step = [], set(), 0
    while len(done) < len(prompts):
        if step % every == 0 and len(reqs) < len(prompts):
            i = len(reqs)
            reqs.append(b.submit(BatchRequest(prompts[i], settings[i],
                                              num_rows=(rows or {}).get(i, 1),
                                              should_stop=(stops or {}).get(i))))
        done |= {r.id for r in b.step()}
        step += 1
        assert step < 2000
    return reqs


def _alone(lm, prompts, settings, rows=None):
    return [lm.generate([p], s, num_candidates=(rows or {}).get(i, 1))[0]
            for i, (p, s) in enumerate(zip(prompts, settings))]


@pytest.mark.parametrize("static", [False, True])
def test_staggered_greedy_equals_alone(lm, static):
    prompts = [lm.build_prompt(t) for t in TEXTS]
    sets = [GREEDY] * 4
    b = ContinuousBatcher(lm, max_rows=5, capacity=256, static=static)
    reqs = _run(b, prompts, sets, rows={1: 2})
    alone = _alone(lm, prompts, sets, rows={1: 2})
    # later requests joined while the first was still decoding
    assert all(r.joined_at < reqs[0].finished_at for r in reqs[1:])
    for r, a in zip(reqs, alone):
        for j, g in enumerate(a):
            np.testing.assert_array_equal(r.codes(j), g.codes)
            assert r.ended[j] == g.ended
    assert b.idle and b.live_rows == 0


def test_seeded_sampling_equals_alone(lm):
    prompts = [lm.build_prompt(t) for t in TEXTS]
    sets = [GenerationSettings(seed=i, top_p=0.9, max_new_tokens=30 + 10 * i,
                               repetition_penalty=1.1, repetition_window=8) for i in range(4)]
    b = ContinuousBatcher(lm, max_rows=8, capacity=256)
    reqs = _run(b, prompts, sets, rows={2: 3}, every=3)
    for r, a in zip(reqs, _alone(lm, prompts, sets, rows={2: 3})):
        for j, g in enumerate(a):
            np.testing.assert_array_equal(r.codes(j), g.codes)


def test_cancel_leaves_others_alone(lm):
    prompts = [lm.build_prompt(t) for t in TEXTS[:3]]
    sets = [GREEDY] * 3
    calls = {"n": 0}

    def stop():  # request 1 gives up after 10 steps of its own
        calls["n"] += 1
        return calls["n"] > 10

    b = ContinuousBatcher(lm, max_rows=3, capacity=256)
    reqs = _run(b, prompts, sets, stops={1: stop}, every=2)
    assert reqs[1].cancelled and 0 < reqs[1].num_tokens() <= 10
    alone = _alone(lm, prompts, sets)
    for i in (0, 2):
        assert not reqs[i].cancelled
        np.testing.assert_array_equal(reqs[i].codes(), alone[i][0].codes)


def test_slots_are_reused_and_waiting_requests_queue(lm):
    prompts = [lm.build_prompt(t) for t in TEXTS]
    b = ContinuousBatcher(lm, max_rows=2, capacity=256)
    reqs = [b.submit(BatchRequest(p, GREEDY)) for p in prompts]
    b.step()
    assert b.live_rows == 2 and b.waiting == 2
    while not b.idle:
        b.step()
    assert all(r.done and not r.cancelled for r in reqs)
    for r, a in zip(reqs, _alone(lm, prompts, [GREEDY] * 4)):
        np.testing.assert_array_equal(r.codes(), a[0].codes)


def test_streaming_take_new_concatenates(lm):
    b = ContinuousBatcher(lm, max_rows=2, capacity=256)
    r = b.submit(BatchRequest(lm.build_prompt("Stream me"), GREEDY))
    parts = []
    while not r.done:
        b.step()
        parts.append(r.take_new())
    np.testing.assert_array_equal(np.concatenate(parts), r.codes())


def test_bad_requests(lm):
    b = ContinuousBatcher(lm, max_rows=2, capacity=64)
    with pytest.raises(InputError, match="rows"):
        b.submit(BatchRequest(lm.build_prompt("x"), GREEDY, num_rows=3))
    with pytest.raises(InputError, match="guidance"):  # 2 rows + 2 twins > 2 slots
        b.submit(BatchRequest(lm.build_prompt("x"), GenerationSettings(cfg_scale=2.0),
                              num_rows=2))
    with pytest.raises(InputError):
        b.submit(BatchRequest(lm.build_prompt("x" * 80), GREEDY))  # does not fit 64 positions
    with pytest.raises(InputError, match="sampling"):
        ContinuousBatcher(lm, sampling="gpu")


def test_static_steps_match_live_prefix(lm):
    cache = RowKVCache(lm.model, 5, 256)
    steps = StaticSteps(cache)
    assert not steps.capture and buckets_for(5) == [1, 2, 4, 5] and steps.bucket(3) == 4
    with torch.inference_mode():
        for s, text in enumerate(TEXTS[:3]):
            cache.prefill(s, torch.tensor(lm.build_prompt(text)))
        pos = torch.tensor([len(lm.build_prompt(t)) for t in TEXTS[:3]])
        ids = torch.tensor([300, 301, 302])
        live = cache.decode(ids, pos, int(pos.max()) + 1)
        whole = steps.decode(ids, pos).clone()  # the whole capacity
        bucket = steps.decode(ids, pos, int(pos.max())).clone()  # a length bucket (256)
    assert steps.lengths == [256] and steps.length(150) == 256
    torch.testing.assert_close(whole, live, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(bucket, live, rtol=1e-5, atol=1e-5)
    big = StaticSteps(RowKVCache(lm.model, 2, 2048))
    assert big.lengths == [256, 512, 1024, 2048] and big.length(257) == 512


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
def test_cuda_graphs_greedy_equals_generate_and_seeds_repeat(lm):
    import copy

    from llasa.lm.model import LlasaLM

    gpu = LlasaLM(copy.deepcopy(lm.model), lm.tokenizer, device="cuda", dtype="fp32")
    prompts = [gpu.build_prompt(t) for t in TEXTS[:3]]
    b = ContinuousBatcher(gpu, max_rows=4, capacity=256)
    assert b._static is not None and b._static.capture and b.sampling == "device"
    reqs = _run(b, prompts, [GREEDY] * 3, every=3)
    for r, a in zip(reqs, _alone(gpu, prompts, [GREEDY] * 3)):
        np.testing.assert_array_equal(r.codes(), a[0].codes)
    seeded = [GenerationSettings(seed=3, max_new_tokens=30)] * 3
    runs = [[r.codes() for r in _run(ContinuousBatcher(gpu, max_rows=4, capacity=256),
                                     prompts, seeded, every=e)] for e in (1, 3)]
    for x, y in zip(*runs):
        np.testing.assert_array_equal(x, y)


def test_device_sampler_greedy_and_filters():
    torch.manual_seed(0)
    n, v = 6, 300
    logits = torch.randn(n, v) * 3
    hist = torch.randint(-1, v, (n, 5))
    common = dict(temperature=torch.full((n,), 0.7), top_k=torch.tensor([0, 5, 50, 0, 1, 20]),
                  top_p=torch.tensor([1.0, 1.0, 0.8, 0.5, 1.0, 0.9]),
                  min_p=torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, 0.1]),
                  penalty=torch.full((n,), 1.3), history=hist, seed=torch.arange(n),
                  row=torch.zeros(n, dtype=torch.long), step=torch.zeros(n, dtype=torch.long))
    from llasa.lm.sampling import apply_repetition_penalty
    pen = apply_repetition_penalty(logits, hist, 1.3)
    greedy = sample_rows(logits, greedy=torch.ones(n, dtype=torch.bool), **common)
    torch.testing.assert_close(greedy, pen.argmax(-1))
    # every pick lies in the support that sampling.warp keeps for that row's settings
    for step in range(30):
        picks = sample_rows(logits, greedy=torch.zeros(n, dtype=torch.bool),
                            **{**common, "step": torch.full((n,), step)})
        for r in range(n):
            s = GenerationSettings(temperature=0.7, top_k=int(common["top_k"][r]),
                                   top_p=float(common["top_p"][r]),
                                   min_p=float(common["min_p"][r]))
            kept = torch.isfinite(warp(pen[r:r + 1], s))[0]
            assert kept[picks[r]], (r, step)
    assert picks[4] == pen[4].argmax()  # top-k 1 is greedy


def test_device_sampler_seeds_and_distribution():
    v = 8
    logits = torch.log(torch.tensor([[0.4, 0.3, 0.2, 0.1] + [0.0] * 4])).repeat(4000, 1)
    n = logits.shape[0]
    kw = dict(greedy=torch.zeros(n, dtype=torch.bool), temperature=torch.ones(n),
              top_k=torch.zeros(n, dtype=torch.long), top_p=torch.ones(n), min_p=torch.zeros(n),
              penalty=torch.ones(n), history=None, row=torch.zeros(n, dtype=torch.long),
              step=torch.zeros(n, dtype=torch.long))
    picks = sample_rows(logits, seed=torch.arange(n), **kw)
    freq = torch.bincount(picks, minlength=v).float() / n
    torch.testing.assert_close(freq[:4], torch.tensor([0.4, 0.3, 0.2, 0.1]), atol=0.03, rtol=0)
    assert freq[4:].sum() == 0
    # a row's pick depends on its own seed/row/step only, not on the rest of the batch
    again = sample_rows(logits[:7], seed=torch.arange(7), **{k: (x[:7] if torch.is_tensor(x)
                                                                else x) for k, x in kw.items()})
    torch.testing.assert_close(again, picks[:7])


def test_device_sampling_batcher_reproducible_and_greedy_equal(lm):
    prompts = [lm.build_prompt(t) for t in TEXTS[:3]]
    sampled = [GenerationSettings(seed=5, max_new_tokens=30, top_p=0.9)] * 3
    runs = []
    for every in (1, 4):  # different arrival patterns, same seeded outputs
        b = ContinuousBatcher(lm, max_rows=3, capacity=256, sampling="device")
        runs.append([r.codes() for r in _run(b, prompts, sampled, every=every)])
    for x, y in zip(*runs):
        np.testing.assert_array_equal(x, y)
    b = ContinuousBatcher(lm, max_rows=3, capacity=256, sampling="device", static=True)
    reqs = _run(b, prompts, [GREEDY] * 3)
    for r, a in zip(reqs, _alone(lm, prompts, [GREEDY] * 3)):
        np.testing.assert_array_equal(r.codes(), a[0].codes)


@pytest.mark.parametrize("mode", ["optimize", "int8", "int4"])
def test_packed_and_quantized_layers_equal_generate(mode):
    from llasa.lm import tiny_lm

    lm = tiny_lm(codebook_size=256, seed=0)  # its own copy: the layers are replaced
    lm.optimize() if mode == "optimize" else lm.quantize(mode)
    prompts = [lm.build_prompt(t) for t in TEXTS[:2]]
    b = ContinuousBatcher(lm, max_rows=2, capacity=256)
    reqs = _run(b, prompts, [GREEDY] * 2, every=3)
    for r, a in zip(reqs, _alone(lm, prompts, [GREEDY] * 2)):
        np.testing.assert_array_equal(r.codes(), a[0].codes)


def test_prefill_budget_spreads_a_burst_over_steps(lm):
    b = ContinuousBatcher(lm, max_rows=4, capacity=256, prefill_tokens=10)
    for t in TEXTS[:3]:  # every prompt is longer than 10 tokens: one newcomer per step
        b.submit(BatchRequest(lm.build_prompt(t), GREEDY))
    live = []
    for _ in range(3):
        b.step()
        live.append(b.live_rows)
    assert live == [1, 2, 3] and b.waiting == 0


@pytest.mark.parametrize("sampled", [False, True])
def test_guidance_twins_equal_generate(lm, sampled):
    prompts = [lm.build_prompt(t) for t in TEXTS[:3]]
    cfg = (GenerationSettings(seed=3, top_p=0.9, max_new_tokens=30, cfg_scale=2.5) if sampled
           else GenerationSettings(do_sample=False, max_new_tokens=30, cfg_scale=2.5,
                                   repetition_penalty=1.3))
    sets = [cfg, GREEDY, cfg]  # guided and plain requests in one batch
    b = ContinuousBatcher(lm, max_rows=7, capacity=256)
    reqs = _run(b, prompts, sets, rows={2: 2}, every=3)
    assert b.idle and b.live_rows == 0
    for r, a in zip(reqs, _alone(lm, prompts, sets, rows={2: 2})):
        for j, g in enumerate(a):
            np.testing.assert_array_equal(r.codes(j), g.codes)
