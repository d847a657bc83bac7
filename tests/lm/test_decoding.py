"""Decoding: logits mask, length caps, batching, seeds, streaming and the search API."""

import numpy as np
import pytest
import torch

from llasa._common.errors import BudgetError, InputError
from llasa.lm import GenerationSettings, tiny_lm
from llasa.lm.model import Generation

GREEDY = GenerationSettings(do_sample=False, max_new_tokens=20)


def _steered_lm(end_logit: float):
    """A real tiny LM whose weights make a banned text token the favourite (logit 100),
    END the runner-up (``end_logit``) and the speech tokens small: only the mask stops the
    banned token, and END wins as soon as it is allowed (if end_logit > 1)."""
    lm = tiny_lm(codebook_size=64, seed=0, tie_word_embeddings=False)
    m, v = lm.model, lm.vocab
    with torch.no_grad():
        for layer in m.model.layers:  # residual stream = token embedding
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        m.model.embed_tokens.weight[:, 0] = 1.0  # feature 0 > 0 for every token
        m.model.norm.weight.zero_()
        m.model.norm.weight[0] = 1.0  # final hidden = [h0 > 0, 0, ...]
        head = m.lm_head.weight
        head.zero_()
        g = torch.Generator().manual_seed(0)
        head[v.speech_offset:v.speech_offset + 64, 0] = torch.rand(64, generator=g)
        head[v.speech_end, 0] = end_logit
        head[v.text_start, 0] = 100.0
        head[lm.tokenizer.eos_token_id, 0] = 100.0
    return lm


def test_mask_allows_only_speech_and_end_never_at_step_0():
    lm = _steered_lm(end_logit=50.0)
    ids = lm.build_prompt("Masked.")
    with torch.inference_mode():
        top = int(lm.model(torch.tensor([ids])).logits[0, -1].argmax())
    assert top in (lm.vocab.text_start, lm.tokenizer.eos_token_id)  # unmasked: a text token
    for s in (GREEDY, GenerationSettings(seed=0, top_k=0)):
        [[g]] = lm.generate([ids], s)
        assert g.ended and g.num_tokens == 2 and len(g.codes) == 1  # speech, then END
        assert 0 <= g.codes[0] < 64


def test_runaway_sample_stops_at_text_derived_cap():
    lm = _steered_lm(end_logit=-100.0)
    ids = lm.build_prompt("abcde" * 2)  # 10 characters -> 50 * (2 + 10/5) = 200 tokens
    [[g]] = lm.generate([ids], GenerationSettings(do_sample=False))
    assert not g.ended and g.num_tokens == 200 and len(g.codes) == 200
    lm.max_context = len(ids) + 30  # the context binds first
    [[g]] = lm.generate([ids], GenerationSettings(do_sample=False))
    assert not g.ended and g.num_tokens == 30
    lm.max_context = len(ids)
    with pytest.raises(BudgetError, match="context"):
        lm.generate([ids], GREEDY)


def test_greedy_matches_transformers_generate(lm):
    ids = lm.build_prompt("Parity with generate.")
    v = lm.vocab
    allowed = {v.speech_end, *range(v.speech_offset, v.speech_offset + v.codebook_size)}
    banned = [i for i in range(v.vocab_size) if i not in allowed]
    with torch.inference_mode():
        ref = lm.model.generate(torch.tensor([ids]), do_sample=False, max_new_tokens=20,
                                suppress_tokens=banned, begin_suppress_tokens=[v.speech_end],
                                eos_token_id=v.speech_end, pad_token_id=v.speech_end)
    ref = ref[0, len(ids):].tolist()
    [[g]] = lm.generate([ids], GREEDY)
    assert (g.codes + v.speech_offset).tolist() == [i for i in ref if i != v.speech_end]
    assert g.ended == (v.speech_end in ref)


def test_batched_greedy_equals_one_by_one(lm):
    prompts = [lm.build_prompt(t) for t in ["Short.", "A much longer sentence to pad.", "Mid"]]
    prompts.append(lm.build_prompt("Cloned.", prompt_text="Prompt words ",
                                   prompt_codes=np.arange(40) % 256))
    alone = [lm.generate([p], GREEDY)[0][0].codes.tolist() for p in prompts]
    batch = lm.generate(prompts, GREEDY, num_candidates=2)
    for i, cands in enumerate(batch):
        for c in cands:
            assert c.codes.tolist() == alone[i], f"prompt {i}"


def test_same_seed_same_output(lm):
    ids = lm.build_prompt("Seeds.")
    s = GenerationSettings(seed=7, max_new_tokens=40, top_p=0.95, repetition_penalty=1.2,
                           repetition_window=8)
    a = lm.generate([ids], s, num_candidates=3)[0]
    b = lm.generate([ids], s, num_candidates=3)[0]
    assert [g.codes.tolist() for g in a] == [g.codes.tolist() for g in b]
    assert len({tuple(g.codes.tolist()) for g in a}) == 3  # candidates differ
    c = lm.generate([ids], GenerationSettings(seed=8, max_new_tokens=40))[0][0]
    assert c.codes.tolist() != a[0].codes.tolist()


def test_stream_equals_generate(lm):
    ids = lm.build_prompt("Streaming.")
    s = GenerationSettings(seed=2, max_new_tokens=25)
    *chunks, end = lm.stream(ids, s)
    assert all(len(c) == 1 for c in chunks)
    ref = lm.generate([ids], s)[0][0]
    assert np.concatenate(chunks).tolist() == ref.codes.tolist()
    # the stream ends with the whole generation's record: END or the cap, as generate says
    assert isinstance(end, Generation) and (end.ended, end.num_tokens) == (ref.ended,
                                                                           ref.num_tokens)
    assert end.codes.tolist() == ref.codes.tolist()
    *chunks4, _ = lm.stream(ids, s, chunk=4)
    assert np.concatenate(chunks4).tolist() == np.concatenate(chunks).tolist()


def test_search_api_forks_rows(lm):
    ids = lm.build_prompt("Search.")
    st = lm.start(ids, 2, GenerationSettings(do_sample=False, max_new_tokens=30))
    assert st.num_rows == 2 and st.step(5) == 10 and st.tokens_generated == 10
    head = st.codes(1).tolist()
    st.select([1, 1, 0])
    assert st.num_rows == 3 and st.codes(0).tolist() == head == st.codes(1).tolist()
    while not all(st.finished(r) for r in range(st.num_rows)):
        st.step(7)
    full = lm.generate([ids], GenerationSettings(do_sample=False, max_new_tokens=30))[0][0]
    for r in range(3):  # greedy: a forked row continues exactly like an unforked run
        assert st.codes(r).tolist() == full.codes.tolist()
    assert st.step(3) == 0
    with pytest.raises(InputError, match="out of range"):
        st.select([3])


def test_bad_generate_inputs(lm):
    with pytest.raises(InputError, match="list of prompts"):
        lm.generate(lm.build_prompt("x"))
    with pytest.raises(InputError, match="empty"):
        lm.generate([[]])
    with pytest.raises(InputError, match="prompt ids"):
        lm.generate([[10**7]])


def test_should_stop_cancels_after_k_steps(lm):
    """should_stop is asked before every step: True on the k-th ask stops after k-1 tokens,
    both for the search API (tokens so far stay readable) and for generate (which raises)."""
    from llasa._common.errors import Cancelled

    asks = []

    def stop_at(k):
        def should_stop():
            asks.append(1)
            return len(asks) >= k
        return should_stop

    s = GenerationSettings(do_sample=False, max_new_tokens=40)
    state = lm.start(lm.build_prompt("Stop me."), 1, s, should_stop=stop_at(6))
    with pytest.raises(Cancelled):
        state.step(40)
    assert state.num_tokens(0) == 5 and len(asks) == 6 and not state.finished(0)
    asks.clear()
    with pytest.raises(Cancelled):
        lm.generate([lm.build_prompt("Stop me."), lm.build_prompt("Me too.")], s,
                    should_stop=stop_at(3))
    assert len(asks) == 3
    asks.clear()  # never True: the same tokens as without should_stop, one ask per step
    got = lm.generate([lm.build_prompt("Stop me.")], s, should_stop=lambda: bool(asks.append(1)))
    ref = lm.generate([lm.build_prompt("Stop me.")], s)
    assert np.array_equal(got[0][0].codes, ref[0][0].codes)
    assert len(asks) == ref[0][0].num_tokens


def test_per_prompt_should_stop_drops_only_that_prompts_rows(lm):
    """One function per prompt: the cancelled prompt's rows leave the batch after k-1 tokens
    (marked cancelled), the other prompt runs on exactly as alone; all cancelled → Cancelled."""
    from llasa._common.errors import Cancelled

    s = GenerationSettings(do_sample=False, max_new_tokens=40)
    keep, stop = lm.build_prompt("Keep going."), lm.build_prompt("Stop me early, please.")
    asks = []
    out = lm.generate([keep, stop], s, num_candidates=2,
                      should_stop=[lambda: False, lambda: asks.append(1) or len(asks) >= 5])
    alone = lm.generate([keep], s)[0][0]
    assert [g.cancelled for g in out[1]] == [True, True] and len(asks) == 5
    assert [g.num_tokens for g in out[1]] == [4, 4]
    for g in out[0]:
        assert not g.cancelled and np.array_equal(g.codes, alone.codes)
    with pytest.raises(Cancelled):
        lm.generate([keep, stop], s, should_stop=[lambda: True, lambda: True])
    with pytest.raises(InputError, match="2 prompts"):
        lm.generate([keep, stop], s, should_stop=[lambda: True])


def _hf_greedy(lm, ids, n, **kw):
    v = lm.vocab
    allowed = {v.speech_end, *range(v.speech_offset, v.speech_offset + v.codebook_size)}
    banned = [i for i in range(v.vocab_size) if i not in allowed]
    with torch.inference_mode():
        out = lm.model.generate(torch.tensor([ids]), do_sample=False, max_new_tokens=n,
                                suppress_tokens=banned, begin_suppress_tokens=[v.speech_end],
                                eos_token_id=v.speech_end, pad_token_id=v.speech_end, **kw)
    return [i - v.speech_offset for i in out[0, len(ids):].tolist() if i != v.speech_end]


def test_classifier_free_guidance_matches_transformers():
    from llasa.lm.prompt import unconditional_prompt

    lm = tiny_lm(codebook_size=256, seed=0)
    with torch.no_grad():  # larger weights: greedy output that depends on the text
        for p in lm.model.parameters():
            if p.ndim == 2:
                p.mul_(10.0)
    v = lm.vocab
    prompts = [lm.build_prompt("Guided speech, please."),
               lm.build_prompt("Cloned.", prompt_text="Prompt words ",
                               prompt_codes=np.arange(30) % 256)]
    for ids in prompts:
        un = unconditional_prompt(ids, v)
        assert v.text_start in un and un.index(v.text_end) == un.index(v.text_start) + 1
        assert un[-5:] == ids[-5:]  # the voice's codes stay
        plain = lm.generate([ids], GREEDY)[0][0].codes.tolist()
        guided = lm.generate([ids], GenerationSettings(do_sample=False, max_new_tokens=20,
                                                       cfg_scale=3.0))[0][0].codes.tolist()
        ref = _hf_greedy(lm, ids, 20, guidance_scale=3.0,
                         negative_prompt_ids=torch.tensor([un]))
        assert guided == ref and guided != plain
    # batched, several candidates, forked search rows: every row keeps its own twin
    s = GenerationSettings(do_sample=False, max_new_tokens=20, cfg_scale=3.0)
    alone = [lm.generate([p], s)[0][0].codes.tolist() for p in prompts]
    for i, cands in enumerate(lm.generate(prompts, s, num_candidates=2)):
        assert [c.codes.tolist() for c in cands] == [alone[i]] * 2
    st = lm.start(prompts[1], 2, s)
    st.step(4)
    st.select([1, 0, 0])
    while not all(st.finished(r) for r in range(st.num_rows)):
        st.step(5)
    assert all(st.codes(r).tolist() == alone[1] for r in range(3))
    a = lm.generate([prompts[0]], GenerationSettings(seed=3, max_new_tokens=20, cfg_scale=2.0))
    b = lm.generate([prompts[0]], GenerationSettings(seed=3, max_new_tokens=20, cfg_scale=2.0))
    assert a[0][0].codes.tolist() == b[0][0].codes.tolist()


def test_guidance_settings_and_prompts_are_checked():
    from llasa.lm.prompt import unconditional_prompt
    from llasa.lm.sampling import guide

    for bad in (0.5, float("nan"), 25, "2"):
        with pytest.raises(InputError, match="cfg_scale"):
            GenerationSettings(cfg_scale=bad)
    c = torch.tensor([[0.0, 1.0, -float("inf")]])
    u = torch.tensor([[1.0, 0.0, -float("inf")]])
    torch.testing.assert_close(guide(c, u, 1.0), c.log_softmax(-1))
    g = guide(c, u, 3.0)
    assert g[0, 2] == -float("inf") and g[0, 1] > g[0, 0]
    lm = tiny_lm(codebook_size=16, seed=0)
    with pytest.raises(InputError, match="TEXT_UNDERSTANDING"):
        unconditional_prompt([1, 2, 3], lm.vocab)


def test_bad_prompt_ids_are_input_errors():
    lm = tiny_lm(codebook_size=64, seed=0)
    with pytest.raises(InputError, match="prompt is empty"):
        lm.generate([[]])
    with pytest.raises(InputError, match=r"must lie in \[0, "):
        lm.generate([[1, lm.vocab.vocab_size]])
    with pytest.raises(InputError, match="must lie in"):
        lm.vocab.check_prompt([-1])
