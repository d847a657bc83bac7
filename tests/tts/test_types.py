import numpy as np
import pytest

from llasa._common.errors import InputError
from llasa.tts.types import SynthesisResult, default_token_cap, duration_to_tokens


def test_duration_maps_to_50_tokens_per_second():
    assert duration_to_tokens(1.0) == 50
    assert duration_to_tokens(2.52) == 126
    assert duration_to_tokens(0.001) == 1
    for bad in (0, -1, float("nan"), float("inf"), "abc", None):
        with pytest.raises(InputError):
            duration_to_tokens(bad)


def test_token_cap_grows_with_text_and_covers_slow_speech():
    short, long = default_token_cap("Hi."), default_token_cap("word " * 60)
    assert 150 <= short < long
    # 300 characters at a slow 10 chars/s is 30 s = 1500 tokens: the cap must allow it.
    assert default_token_cap("x" * 300) > 1500


def test_result_duration():
    r = SynthesisResult(audio=np.zeros(16000 * 2, np.float32), sample_rate=16000,
                        codes=np.zeros(100, np.int64))
    assert r.duration == 2.0 and r.info == {}
