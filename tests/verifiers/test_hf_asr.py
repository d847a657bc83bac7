"""transformers Whisper plumbing ("hf-asr:<dir>") with a tiny random model built offline.

A random model produces gibberish, so these tests check the plumbing (loading from a directory,
batching, long-clip pieces, the verifier's arithmetic), not recognition quality.
"""

import numpy as np
import pytest

from llasa._common.errors import ModelLoadError
from llasa.verifiers import HFWhisperTranscriber, VerifyRequest, build_verifier, error_rate

from .conftest import TEXT_A
from .hf_tiny import tiny_whisper


@pytest.fixture(scope="module")
def whisper_dir(tmp_path_factory):
    return tiny_whisper(tmp_path_factory.mktemp("whisper"))


def test_transcribe_batched_equals_one_by_one(whisper_dir, clips):
    t = HFWhisperTranscriber(str(whisper_dir), max_new_tokens=8, batch_size=2)
    assert not t.loaded
    batch = [clips["a"], clips["ref"], np.zeros(0, np.float32), clips["a_other"]]
    together = t.transcribe(batch, language="en")
    assert t.loaded and len(together) == 4 and together[2] == ""
    assert together == [t.transcribe([w], language="en")[0] for w in batch]
    assert not t.multilingual


def test_long_clip_is_cut_into_pieces(whisper_dir, clips):
    t = HFWhisperTranscriber(str(whisper_dir), max_new_tokens=4)
    long = np.concatenate([clips["a"]] * 8)
    assert long.size > 30 * 16000
    one = t.transcribe([long[:30 * 16000]])[0]
    two = t.transcribe([long[30 * 16000:]])[0]
    assert t.transcribe([long])[0] == " ".join(s for s in (one, two) if s)


def test_hf_asr_verifier_scores_its_transcripts(whisper_dir, clips):
    v = build_verifier(f"hf-asr:{whisper_dir}", max_new_tokens=8)
    assert v.name == f"hf-asr:{whisper_dir}" and v.higher_is_better is False and not v.loaded
    scores, texts = v.evaluate([clips["a"], clips["ref"]], VerifyRequest(text=TEXT_A))
    assert list(scores) == [error_rate(TEXT_A, t) for t in texts]


def test_missing_model_is_model_load_error(tmp_path, clips):
    with pytest.raises(ModelLoadError):
        HFWhisperTranscriber(str(tmp_path / "missing")).transcribe([clips["a"]])
