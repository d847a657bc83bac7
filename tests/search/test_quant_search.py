"""Search runs on quantized LM weights: best-of-N shares one prefill, beams fork the KV cache,
seeds reproduce, and the candidates are the quantized LM's own batched samples."""

from __future__ import annotations

import numpy as np
import pytest

from llasa.search import Beam, BestOfN, search

from .conftest import CAP

TEXT = "Hello there, how are you?"
S = {"seed": 0, "max_new_tokens": CAP}


@pytest.fixture(scope="module", params=["int8", "int4"])
def quant_tts(request, tiny_codec):
    from llasa.lm.tiny import tiny_lm
    from llasa.tts import Llasa

    return Llasa(tiny_lm(codebook_size=65536, seed=0).quantize(request.param), tiny_codec)


def test_best_of_n_and_beam_on_quantized_weights(quant_tts, voice, registry):
    res = search(quant_tts, TEXT, voice, BestOfN(3, ("sim",)), registry=registry, **S)
    gens = quant_tts.lm.generate([quant_tts.build_prompt(TEXT, voice)],
                                 quant_tts.make_settings(**S), num_candidates=3)[0]
    for cand, g in zip(res.candidates, gens):
        np.testing.assert_array_equal(cand.codes, g.codes)
    scores = [c.scores["sim"] for c in res.candidates]
    assert res.chosen == int(np.argmax(scores)) and res.compute.lm_tokens == 3 * CAP
    again = search(quant_tts, TEXT, voice, BestOfN(3, ("sim",)), registry=registry, **S)
    assert [c.codes.tolist() for c in again.candidates] == [c.codes.tolist()
                                                            for c in res.candidates]
    beam = search(quant_tts, TEXT, voice, Beam(2, 2, 10, ("sim",)), registry=registry, **S)
    assert beam.compute.lm_tokens == 4 * CAP and len(beam.candidates) == 2
    assert all(x.num_tokens == CAP for x in beam.candidates)
