import numpy as np
import pytest

from llasa._common.errors import InputError
from llasa.lm.settings import GenerationSettings, token_budget
from llasa.tts.types import SynthesisResult, duration_to_tokens


def test_duration_maps_to_50_tokens_per_second():
    assert duration_to_tokens(1.0) == 50
    assert duration_to_tokens(2.52) == 126
    assert duration_to_tokens(0.001) == 1
    for bad in (0, -1, float("nan"), float("inf"), "abc", None):
        with pytest.raises(InputError):
            duration_to_tokens(bad)


def test_one_token_cap_policy_a_limit_clamps():
    s = GenerationSettings()
    short, long = token_budget(len("Hi."), 2048, s), token_budget(len("word " * 60), 2048, s)
    assert 100 <= short < long
    # 300 characters at a slow 10 chars/s is 30 s = 1500 tokens: the cap must allow it.
    assert token_budget(300, 4096, s) > 1500
    # the server's limit is a clamp on that same policy, never a second formula
    limited = GenerationSettings(token_limit=400)
    assert token_budget(300, 4096, limited) == 400
    assert token_budget(len("Hi."), 2048, limited) == short  # under the limit: unchanged
    assert token_budget(300, 4096, GenerationSettings(max_new_tokens=900, token_limit=400)) == 400
    assert token_budget(300, 250, limited) == 250  # and the context's room still bounds it
    with pytest.raises(InputError):
        GenerationSettings(token_limit=0)


def test_result_duration():
    r = SynthesisResult(audio=np.zeros(16000 * 2, np.float32), sample_rate=16000,
                        codes=np.zeros(100, np.int64))
    assert r.duration == 2.0 and r.info == {}
