"""Speaker similarity: resemblyzer on real espeak voices, WavLM plumbing on a tiny random model."""

import numpy as np
import pytest

from llasa._common.errors import InputError
from llasa.verifiers import SpeakerSimilarity, VerifyRequest, WavLMSimilarity

from .hf_tiny import tiny_wavlm


def test_nothing_loads_before_first_score(clips):
    v = SpeakerSimilarity()
    assert not v.loaded
    with pytest.raises(InputError, match="reference_audio"):
        v.score([clips["a"]], VerifyRequest(text="x"))
    assert not v.loaded  # the request is checked before any model load
    v.score([clips["a"]], VerifyRequest(reference_audio=clips["ref"]))
    assert v.loaded


def test_same_voice_scores_higher_than_other_voices(sim, clips):
    req = VerifyRequest(reference_audio=clips["ref"])
    same, other, scot = sim.score([clips["a"], clips["a_other"], clips["a_scot"]], req)
    # The reference says a different sentence, so only the voice can make "same" win.
    assert same > other + 0.05 and same > scot
    assert 0.0 <= min(same, other, scot) and max(same, other, scot) <= 1.0
    assert sim.score([clips["ref"]], req)[0] == pytest.approx(1.0, abs=1e-6)


def test_batched_equals_one_by_one_and_resemblyzer(sim, clips):
    from resemblyzer import VoiceEncoder, preprocess_wav

    req = VerifyRequest(reference_audio=clips["ref"])
    batch = [clips["a"], clips["a_other"], clips["a_scot"][:20000]]
    together = sim.score(batch, req)
    alone = np.array([sim.score([w], req)[0] for w in batch])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    enc = VoiceEncoder(device="cpu", verbose=False)
    r = enc.embed_utterance(preprocess_wav(clips["ref"]))
    direct = [float(np.dot(r, enc.embed_utterance(preprocess_wav(w)))) for w in batch]
    np.testing.assert_allclose(together, direct, atol=1e-5)


def test_short_or_silent_candidates_score_zero(sim, clips):
    req = VerifyRequest(reference_audio=clips["ref"])
    scores = sim.score([np.zeros(0, np.float32), np.zeros(16000, np.float32),
                        clips["a"][:800], clips["a"]], req)
    assert list(scores[:3]) == [0.0, 0.0, 0.0] and scores[3] > 0.5


def test_silent_reference_is_input_error(sim, clips):
    with pytest.raises(InputError, match="too short or silent"):
        sim.score([clips["a"]], VerifyRequest(reference_audio=np.zeros(16000, np.float32)))


@pytest.fixture(scope="module")
def wavlm_dir(tmp_path_factory):
    return tiny_wavlm(tmp_path_factory.mktemp("wavlm"))


def test_wavlm_plumbing(wavlm_dir, clips):
    v = WavLMSimilarity(str(wavlm_dir))
    assert v.name == f"wavlm-sim:{wavlm_dir}" and not v.loaded
    ref, a, short = clips["ref"][:32000], clips["a"][:32000], clips["a"][:24000]
    req = VerifyRequest(reference_audio=ref)
    batch = [ref, a, short, a, np.zeros(0, np.float32)]
    together = v.score(batch, req)
    assert v.loaded
    assert together[0] == pytest.approx(1.0, abs=1e-5)       # identical audio
    assert together[1] == together[3] and together[4] == -1.0  # duplicates; empty = worst
    assert np.all(together >= -1.0) and np.all(together <= 1.0 + 1e-6)
    alone = np.array([v.score([w], req)[0] for w in batch])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_wavlm_missing_model_is_model_load_error(tmp_path, clips):
    from llasa._common.errors import ModelLoadError

    v = WavLMSimilarity(str(tmp_path / "nope"))
    with pytest.raises(ModelLoadError):
        v.score([clips["a"]], VerifyRequest(reference_audio=clips["ref"]))
