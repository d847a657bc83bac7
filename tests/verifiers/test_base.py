"""The verifier contract: requests, input checks, choosing the best, scoring with several."""

import numpy as np
import pytest

from llasa._common.errors import InputError
from llasa.verifiers import (CombinedVerifier, DNSMOSVerifier, SpeakerSimilarity, Verifier,
                             VerifyRequest, best_index, build_verifier, check_audios, score_all)


def test_request_validates():
    with pytest.raises(InputError, match="text"):
        VerifyRequest(text=3)
    with pytest.raises(InputError, match="language"):
        VerifyRequest(text="hi", language="")
    with pytest.raises(InputError, match="reference audio"):
        VerifyRequest(text="hi", reference_audio=np.zeros((2, 100), np.float32))
    with pytest.raises(InputError, match="NaN"):
        VerifyRequest(reference_audio=np.array([0.0, np.nan], np.float32))
    ref = VerifyRequest(reference_audio=np.zeros(1600, np.float64)).reference_audio
    assert ref.dtype == np.float32


def test_check_audios():
    out = check_audios([np.zeros(10, np.float64), np.zeros(0, np.float32)])
    assert [a.dtype for a in out] == [np.float32, np.float32] and out[1].size == 0
    with pytest.raises(InputError, match="candidate 1"):
        check_audios([np.zeros(10, np.float32), np.zeros((2, 5), np.float32)])
    with pytest.raises(InputError, match="wrap a single waveform"):
        check_audios(np.zeros(100, np.float32))


def test_best_index_direction_and_nan():
    s = np.array([0.3, np.nan, 0.9, 0.1])
    assert best_index(s, higher_is_better=True) == 2
    assert best_index(s, higher_is_better=False) == 3
    with pytest.raises(InputError):
        best_index(np.array([]), True)


def test_every_verifier_satisfies_the_protocol():
    for v in [SpeakerSimilarity(), DNSMOSVerifier(), build_verifier("wer"),
              build_verifier("0.5*wer+0.5*mos")]:
        assert isinstance(v, Verifier), v
        lo, hi = v.score_range
        assert hi > lo and isinstance(v.higher_is_better, bool)


def test_score_all_and_counters(dnsmos, clips):
    a = clips["a"][:40000]  # 2.5 s: one DNSMOS window
    calls, n = dnsmos.calls, dnsmos.clips
    out = score_all([dnsmos], [a, 0.5 * a], VerifyRequest())
    assert list(out) == ["mos"] and out["mos"].shape == (2,)
    assert dnsmos.calls == calls + 1 and dnsmos.clips == n + 2 and dnsmos.seconds > 0
    assert dnsmos.score([], VerifyRequest()).shape == (0,)
    with pytest.raises(InputError, match="unique"):
        score_all([dnsmos, dnsmos], [a], VerifyRequest())
    with pytest.raises(InputError, match="VerifyRequest"):
        dnsmos.score([a], {"text": "x"})
    assert isinstance(CombinedVerifier([(dnsmos, 1.0)]).score([a], VerifyRequest()), np.ndarray)
