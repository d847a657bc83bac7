"""Weighted combination of real verifiers: the documented formula and its direction."""

import numpy as np
import pytest

from llasa._common.errors import InputError
from llasa.verifiers import ASRVerifier, CombinedVerifier, VerifyRequest, unit_score

from .conftest import TEXT_A


def test_unit_score_direction(sim, dnsmos):
    wer = ASRVerifier("wer")
    np.testing.assert_allclose(unit_score(wer, [0.0, 0.25, 1.0, 2.0]), [1.0, 0.75, 0.0, -1.0])
    np.testing.assert_allclose(unit_score(dnsmos, [1.0, 3.0, 5.0]), [0.0, 0.5, 1.0])
    np.testing.assert_allclose(unit_score(sim, [0.2, 0.9]), [0.2, 0.9])


def test_combined_follows_formula_and_prefers_right_voice_and_text(transcriber, sim, clips):
    wer = ASRVerifier("wer", transcriber)
    combo = CombinedVerifier([(wer, 3.0), (sim, 1.0)])
    assert combo.name == "0.75*wer+0.25*sim" and combo.higher_is_better
    req = VerifyRequest(text=TEXT_A, reference_audio=clips["a"])
    # candidate 0: right text, right voice; 1: right text, other voice; 2: wrong text, same voice
    batch = [clips["a"], clips["a_other"], clips["ref"]]
    scores = combo.score(batch, req)
    raw = combo.last_scores
    expected = (3 * (1 - raw["wer"]) + 1 * raw["sim"]) / 4
    np.testing.assert_allclose(scores, expected)
    np.testing.assert_allclose(raw["sim"], sim.score(batch, req))
    assert int(np.argmax(scores)) == 0 and scores[0] > scores[2]


def test_bad_parts_are_input_errors(sim):
    with pytest.raises(InputError):
        CombinedVerifier([])
    with pytest.raises(InputError, match="> 0"):
        CombinedVerifier([(sim, 0)])
    with pytest.raises(InputError, match="pairs"):
        CombinedVerifier([sim])
