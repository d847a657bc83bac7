"""The search's Scorer on controlled real speech (espeak-ng): it ranks the right candidate
first for each verifier and for their combination, and counts the verifier calls."""

import numpy as np
import pytest

from llasa._common.errors import InputError
from llasa.search.result import Compute
from llasa.search.scoring import Scorer, resolve_verifiers
from llasa.verifiers import VerifyRequest

RIGHT = "Please call Stella and ask her to bring these things with her from the store."
WRONG = "Seven green elephants were dancing quietly on the moon last winter."


@pytest.fixture(scope="module")
def clips(speech):
    return {"ref": speech("The quick brown fox jumps over the lazy dog.", voice="en-us"),
            "right_same": speech(RIGHT, voice="en-us"),
            "wrong_same": speech(WRONG, voice="en-us"),
            "right_other": speech(RIGHT, voice="en-gb-scotland+m3")}


def _scorer(registry, specs, ref):
    compute = Compute()
    req = VerifyRequest(text=RIGHT, reference_audio=ref)
    return Scorer(resolve_verifiers(specs, registry), req, compute), compute


def test_each_verifier_picks_the_controlled_winner(registry, clips):
    wer, comp = _scorer(registry, ["wer"], clips["ref"])
    rank, per = wer.score([clips["wrong_same"], clips["right_same"]])
    assert wer.best(rank) == 1 and rank[1] < rank[0] and per[1]["wer"] == rank[1]
    assert (comp.verifier_calls, comp.verifier_clips) == (1, 2)
    sim, _ = _scorer(registry, ["sim"], clips["ref"])
    rank, _ = sim.score([clips["right_other"], clips["right_same"]])
    assert sim.best(rank) == 1 and sim.order(rank) == [1, 0]


def test_several_verifiers_rank_by_their_combination(registry, clips):
    both, comp = _scorer(registry, ["wer", "sim"], clips["ref"])
    assert both.name == "0.5*wer+0.5*sim" and both.higher_is_better
    cands = [clips["wrong_same"], clips["right_other"], clips["right_same"]]
    rank, per = both.score(cands)
    assert both.best(rank) == 2
    assert set(per[0]) == {"wer", "sim", "0.5*wer+0.5*sim", "transcript"}  # + what ASR heard
    assert all(isinstance(p["transcript"], str) for p in per)
    expect = 0.5 * (1 - np.array([p["wer"] for p in per])) + 0.5 * np.array(
        [p["sim"] for p in per])
    np.testing.assert_allclose(rank, expect, atol=1e-9)
    assert (comp.verifier_calls, comp.verifier_clips) == (2, 6)  # each part is one batch


def test_scorer_refuses_missing_inputs_before_scoring(registry):
    with pytest.raises(InputError, match="reference voice"):
        Scorer(resolve_verifiers(["sim"], registry), VerifyRequest(text="hi"), Compute())
    with pytest.raises(InputError, match="named twice"):
        resolve_verifiers(["sim", "sim"], registry)
    with pytest.raises(InputError, match="Verifier object"):
        resolve_verifiers([3], registry)
