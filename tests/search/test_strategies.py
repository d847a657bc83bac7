"""Search strategies on a tiny real LM + codec with the real bundled verifiers.

Properties: the chosen candidate is the arg-best of its scores, reported scores are the
verifier's on the candidate's audio, compute accounting is exact (closed forms: the tiny LM
never ends early), B = K = 1 beam search is plain sampling, seeds reproduce, the prompt is
prefilled once (rows are forked, never recomputed), threshold mode stops when satisfied.
"""

import json

import numpy as np
import pytest

from llasa._common.errors import InputError
from llasa.search import (Beam, BestOfN, Hybrid, PartialPRM, SearchResult, Threshold,
                          check_search_request)
from llasa.search import search
from llasa.verifiers import VerifyRequest

from .conftest import CAP

TEXT = "Hello there, how are you?"
S = {"seed": 0, "max_new_tokens": CAP}


def _rescore(tts, voice, verifier, codes_list):
    """The verifier's scores of candidates decoded independently of the search."""
    prompt = tts.build_prompt(TEXT, voice)
    audios = tts.decode([np.asarray(c) for c in codes_list],
                        [tts.context_codes(prompt)] * len(codes_list))
    return verifier.score(audios, VerifyRequest(text=TEXT, reference_audio=voice.audio))


def _prefills(lm):
    """Token counts per row of every decoder forward (> 1: a prompt prefill), seen at the
    embedding lookup that every forward starts with."""
    seen = []
    h = lm.model.model.embed_tokens.register_forward_hook(
        lambda mod, args, out: seen.append(args[0].shape[-1]))
    return seen, h


def test_best_of_n_arg_best_exact_compute_one_batch(tiny_tts, voice, registry):
    sim = registry.get("sim")
    sim.score([voice.audio], VerifyRequest(reference_audio=voice.audio))  # load outside timing
    calls0, clips0 = sim.calls, sim.clips
    seen, h = _prefills(tiny_tts.lm)
    try:
        res = search(tiny_tts, TEXT, voice, BestOfN(4, ("sim",)), registry=registry, **S)
    finally:
        h.remove()
    assert isinstance(res, SearchResult) and res.strategy == "best-of-n:4"
    scores = [c.scores["sim"] for c in res.candidates]
    assert res.chosen == int(np.argmax(scores)) and res.scores == res.candidates[res.chosen].scores
    assert [c.rank_score for c in res.candidates] == scores
    c = res.compute
    assert (c.lm_tokens, c.candidates, c.budget, c.max_lm_tokens) == (4 * CAP, 4, 4, 4 * CAP)
    assert c.lm_tokens == sum(x.num_tokens for x in res.candidates)
    assert (c.verifier_calls, c.verifier_clips) == (1, 4) == (sim.calls - calls0,
                                                              sim.clips - clips0)
    assert c.decode_calls == 1  # all candidates decoded in one batched call
    assert c.wall_seconds >= c.lm_seconds + c.decode_seconds + c.verifier_seconds
    assert sum(1 for n in seen if n > 1) == 1  # one prefill shared by the 4 candidates
    # The same candidates as one batched LM call, and the scores are the verifier's own.
    prompt = tiny_tts.build_prompt(TEXT, voice)
    gens = tiny_tts.lm.generate([prompt], tiny_tts.make_settings(**S), num_candidates=4)[0]
    for cand, g in zip(res.candidates, gens):
        np.testing.assert_array_equal(cand.codes, g.codes)
    np.testing.assert_allclose(_rescore(tiny_tts, voice, sim, [g.codes for g in gens]), scores,
                               atol=1e-5)
    assert len(res.audio) == 320 * len(res.codes) and res.info["tokens"] == CAP
    json.dumps(res.to_dict())  # --scores-json writes this


@pytest.mark.parametrize("seed", [0, 7])
def test_beam_1x1_is_plain_sampling(tiny_tts, voice, registry, seed):
    res = search(tiny_tts, TEXT, voice, Beam(1, 1, 7, ("sim",)), registry=registry,
                 seed=seed, max_new_tokens=CAP)
    plain = tiny_tts.synthesize(TEXT, voice, seed=seed, max_new_tokens=CAP)
    np.testing.assert_array_equal(res.codes, plain.codes)  # token-identical
    np.testing.assert_allclose(res.audio, plain.audio, atol=1e-6)
    assert res.compute.lm_tokens == CAP
    # nothing to prune with one row: only the final hypothesis is scored
    assert res.compute.verifier_calls == 1 and all(s["scores"] is None for s in res.steps)
    assert len(res.steps) == -(-CAP // 7)


def test_beam_prunes_by_score_forks_kv_and_counts_exactly(tiny_tts, voice, registry):
    sim = registry.get("sim")
    calls0 = sim.calls
    seen, h = _prefills(tiny_tts.lm)
    try:
        res = search(tiny_tts, TEXT, voice, Beam(2, 2, 10, ("sim",)), registry=registry, **S)
    finally:
        h.remove()
    assert sum(1 for n in seen if n > 1) == 1  # beams are forked, never re-prefilled
    steps = CAP // 10
    c = res.compute
    assert c.lm_tokens == 4 * CAP  # B*K rows each sample every token up to the cap
    assert (c.verifier_calls, c.verifier_clips) == (steps, 4 * steps)
    assert sim.calls - calls0 == steps and c.decode_calls == steps
    assert len(res.steps) == steps
    for s in res.steps:  # the kept rows are the 2 best partial scores
        assert len(s["scores"]) == 4
        assert s["kept"] == [int(i) for i in np.argsort(-np.asarray(s["scores"]),
                                                        kind="stable")[:2]]
    assert len(res.candidates) == 2 and all(x.num_tokens == CAP for x in res.candidates)
    ranks = [x.rank_score for x in res.candidates]
    assert res.chosen == int(np.argmax(ranks))
    np.testing.assert_allclose(_rescore(tiny_tts, voice, sim, [x.codes for x in res.candidates]),
                               ranks, atol=1e-5)


def test_beam_reproducible_with_seed(tiny_tts, voice, registry):
    cfg = Beam(2, 2, 15, ("sim",))
    a = search(tiny_tts, TEXT, voice, cfg, registry=registry, **S)
    b = search(tiny_tts, TEXT, voice, cfg, registry=registry, **S)
    c = search(tiny_tts, TEXT, voice, cfg, registry=registry, seed=1, max_new_tokens=CAP)
    np.testing.assert_array_equal(a.codes, b.codes)
    assert a.scores == b.scores and a.steps == b.steps
    assert not np.array_equal(a.codes, c.codes)


def test_partial_prm_then_plain_sampling(tiny_tts, voice, registry):
    res = search(tiny_tts, TEXT, voice, PartialPRM(Beam(2, 2, 10, ("sim",)), prm_chunks=2),
                 registry=registry, **S)
    c = res.compute
    assert len(res.steps) == 2 and len(res.candidates) == 1
    assert c.lm_tokens == 4 * 10 * 2 + (CAP - 20)  # guided B*K rows, then the best beam alone
    assert c.verifier_calls == 2 + 1  # two PRM steps + the final score
    best_beam = res.steps[-1]["kept"][0]
    assert best_beam == int(np.argmax(res.steps[-1]["scores"]))
    assert res.candidates[0].meta["source"] == "continued"


def test_hybrid_sim_prm_then_wer_orm(tiny_tts, voice, registry):
    cfg = Hybrid(Beam(2, 2, 10, ("sim",)), prm_chunks=1, final_candidates=3,
                 orm_verifiers=("wer",))
    res = search(tiny_tts, TEXT, voice, cfg, registry=registry, **S)
    c = res.compute
    assert c.lm_tokens == 4 * 10 + 3 * (CAP - 10)
    assert c.verifier_calls == 2  # one SIM step over 4 rows, one WER batch over 3 finals
    assert c.verifier_clips == 4 + 3
    assert res.ranking == {"name": "wer", "higher_is_better": False, "prm": "sim"}
    wers = [x.scores["wer"] for x in res.candidates]
    assert len(wers) == 3 and res.chosen == int(np.argmin(wers))
    # issue 19: each candidate carries the transcript its WER was computed from
    from llasa.verifiers.text import error_rate

    for x in res.candidates:
        assert "transcript" not in x.scores and isinstance(x.meta["transcript"], str)
        assert x.to_dict()["transcript"] == x.meta["transcript"]
        assert x.scores["wer"] == pytest.approx(error_rate(TEXT, x.meta["transcript"], "en",
                                                           "wer"))
    assert "transcript" not in res.scores
    # finals forked round-robin from the kept beams: 0, 1, 0 (same first chunk for 0 and 2)
    assert [x.meta["beam"] for x in res.candidates] == [0, 1, 0]
    np.testing.assert_array_equal(res.candidates[0].codes[:10], res.candidates[2].codes[:10])
    assert not np.array_equal(res.candidates[0].codes[:10], res.candidates[1].codes[:10])
    kept_scores = [res.steps[0]["scores"][r] for r in res.steps[0]["kept"]]
    assert res.candidates[0].meta["prm_score"] == pytest.approx(max(kept_scores), abs=1e-5)


def test_threshold_stops_when_met_and_spends_budget_otherwise(tiny_tts, voice, registry):
    never = search(tiny_tts, TEXT, voice, Threshold("sim", 2.0, max_samples=3, batch=2),
                   registry=registry, **S)
    assert not never.info["target_met"] and never.info["rounds"] == 2
    assert len(never.candidates) == 3 and never.compute.lm_tokens == 3 * CAP
    assert never.compute.verifier_calls == 2
    assert never.chosen == int(np.argmax([x.rank_score for x in never.candidates]))
    met = search(tiny_tts, TEXT, voice, Threshold("sim", 0.0, max_samples=5),
                 registry=registry, **S)
    assert met.info["target_met"] and met.info["rounds"] == 1 and len(met.candidates) == 1
    assert met.compute.lm_tokens == CAP
    plain = tiny_tts.synthesize(TEXT, voice, **S)  # round 0 uses the request's seed
    np.testing.assert_array_equal(met.codes, plain.codes)
    with pytest.raises(InputError, match="lower-is-better: write wer<=0.1"):
        search(tiny_tts, TEXT, voice, Threshold("wer", 0.1, op=">="), registry=registry, **S)


def test_finished_rows_become_hypotheses(chatty_tts, speech, registry):
    """A 16-code LM that ends early: kept rows that ended leave the beam as complete
    hypotheses, the width shrinks, and every candidate is complete."""
    from llasa.tts import Voice

    wav = speech("The birch canoe slid on the smooth planks.")
    v = Voice(text="The birch canoe", codes=np.arange(12) % 16, audio=wav, codebook_size=65536)
    res = search(chatty_tts, TEXT, v, Beam(2, 3, 4, ("sim",)), registry=registry, seed=3,
                 max_new_tokens=60)
    assert 1 <= len(res.candidates) <= 2
    assert all(x.ended or x.num_tokens == 60 for x in res.candidates)
    assert any(x.ended for x in res.candidates)
    found = 0
    for s in res.steps:  # after f hypotheses are found, at most B - f beams are kept
        assert len(s["kept"]) <= 2 - found
        found += len(s["finished"])
    ranks = [x.rank_score for x in res.candidates]
    assert res.chosen == int(np.argmax(ranks))


def test_search_entry_point_and_request_rules(tiny_tts, voice, registry):
    direct = search(tiny_tts, TEXT, voice, BestOfN(2, ("sim",)), registry=registry, **S)
    assert isinstance(direct, SearchResult)
    cfg = BestOfN(2, (registry.get("sim"),))  # a config with a verifier object works too
    np.testing.assert_array_equal(search(tiny_tts, TEXT, voice, cfg, **S).codes, direct.codes)
    with pytest.raises(InputError, match="unknown sampling option"):
        tiny_tts.synthesize(TEXT, voice, search=cfg)  # search is llasa.search's, not the façade's
    with pytest.raises(InputError, match="duration cannot be combined with search"):
        check_search_request(cfg, duration=1.0)


def test_clear_errors(tiny_tts, voice, registry):
    with pytest.raises(InputError, match="reference voice"):
        search(tiny_tts, TEXT, None, BestOfN(2, ("sim",)), registry=registry, **S)
    with pytest.raises(InputError, match="one chunk of text"):
        search(tiny_tts, "Word. " * 60, voice, BestOfN(2, ("sim",)), registry=registry, **S)
    with pytest.raises(InputError, match="search config must be"):
        search(tiny_tts, TEXT, voice, {"n": 2}, registry=registry)
    with pytest.raises(InputError, match="unknown verifier"):
        search(tiny_tts, TEXT, voice, BestOfN(2, ("nope",)), registry=registry, **S)


@pytest.mark.parametrize("cfg", [BestOfN(2, ("sim",)), Beam(2, 2, 10, ("sim",)),
                                 Threshold("sim", 2.0, max_samples=4, batch=2)],
                         ids=["best_of_n", "beam", "threshold"])
def test_should_stop_cancels_a_search_mid_generation(tiny_tts, voice, registry, cfg):
    """should_stop reaches the LM of every strategy: asked once per decoding step, True on
    the 13th ask stops the search (before any 30-token candidate could finish)."""
    from llasa._common.errors import Cancelled

    asks = []
    with pytest.raises(Cancelled):
        search(tiny_tts, TEXT, voice, cfg, registry=registry,
               should_stop=lambda: asks.append(1) or len(asks) >= 13, **S)
    assert len(asks) == 13
