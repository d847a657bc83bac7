"""ASR verifiers on real espeak speech with the bundled Whisper tiny.en (faster-whisper)."""

from pathlib import Path

import numpy as np
import pytest

from llasa._common.errors import InputError
from llasa.verifiers import ASRVerifier, Transcriber, VerifyRequest, error_rate

from .conftest import TEXT_A, TEXT_B, WRONG_TEXT

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def test_construction_loads_nothing():
    t = Transcriber()
    v = ASRVerifier("wer")
    assert not t.loaded and not v.loaded
    with pytest.raises(InputError, match="needs the target text"):
        ASRVerifier("wer", t).score([np.zeros(16000, np.float32)], VerifyRequest(text=" ?! "))
    assert not t.loaded
    with pytest.raises(InputError):
        Transcriber(beam_size=0)
    with pytest.raises(InputError, match="metric"):
        ASRVerifier("bleu")


def test_right_transcript_beats_wrong_one(transcriber, clips):
    v = ASRVerifier("wer", transcriber)
    assert v.higher_is_better is False
    right = v.score([clips["a"]], VerifyRequest(text=TEXT_A))[0]
    wrong = v.score([clips["a"]], VerifyRequest(text=WRONG_TEXT))[0]
    assert right <= 0.35 and wrong >= 0.8 and right < wrong


def test_matching_audio_wins_within_a_batch(transcriber, clips):
    v = ASRVerifier("cer", transcriber)
    scores, texts = v.evaluate([clips["ref"], clips["a"]], VerifyRequest(text=TEXT_A))
    assert scores[1] < scores[0] and v.calls == 1 and v.clips == 2
    assert list(scores) == [error_rate(TEXT_A, t, "en", "cer") for t in texts]
    assert "stella" in texts[1].lower()


def test_batched_equals_one_by_one(transcriber, clips):
    batch = [clips["a"], clips["ref"], clips["a_other"]]
    together = transcriber.transcribe(batch)
    assert together == [transcriber.transcribe([w])[0] for w in batch]
    assert all(together)


def test_empty_and_long_clips(transcriber, clips, speech):
    long = np.concatenate([clips["a"], np.zeros(8000, np.float32)] * 8)  # > 30 s: two pieces
    assert long.size > 30 * 16000
    texts = transcriber.transcribe([np.zeros(0, np.float32), clips["a"][:800], long])
    assert texts[0] == "" and texts[1] == ""
    assert texts[2].lower().count("stella") >= 5
    v = ASRVerifier("wer", transcriber)
    assert v.score([np.zeros(0, np.float32)], VerifyRequest(text=TEXT_B))[0] == 1.0


def test_english_only_model_refuses_other_languages(transcriber, clips):
    with pytest.raises(InputError, match="English-only"):
        ASRVerifier("wer", transcriber).score([clips["a"]], VerifyRequest("你好世界", language="zh"))


def test_compression_ratio_flags_loops_not_sentences():
    from llasa.verifiers.asr import MAX_COMPRESSION_RATIO, compression_ratio

    assert compression_ratio("") == 0.0
    for fine in (TEXT_A, TEXT_B, "Uncle Joe will run in the kitchen."):
        assert compression_ratio(fine) < MAX_COMPRESSION_RATIO
    for loop in ("We'll see. " * 74, "9-12-0-1-0-1-0-1-0-1-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0"):
        assert compression_ratio(loop) > MAX_COMPRESSION_RATIO


def test_fallback_retranscribes_a_looping_clip(transcriber, clips):
    """tests/assets/whisper_loop.wav: 1.9 s of the shipped model saying "Uncle Joe will run in
    the kitchen." (eval_open, seed 2), which the batched pipeline heard as
    "9-12-0-1-0-1-0-…" (WER 414 %). The fallback samples at raised temperatures from a
    generator seeded when the model loads ("9-12.Wimblended location.", then "I'm Kyle, don't
    win blind in the kitchen." here); it does not loop, and it repeats itself for a freshly
    loaded model. Clips that do not loop keep the batched transcript."""
    import soundfile as sf

    from llasa.verifiers.asr import MAX_COMPRESSION_RATIO, compression_ratio

    loop, sr = sf.read(ASSETS / "whisper_loop.wav", dtype="float32")
    assert sr == 16000
    fixed = Transcriber(fallback=True)
    for text in (fixed._transcribe_with_fallback(loop, None),
                 fixed.transcribe([loop, clips["a"]])[0]):
        assert text and compression_ratio(text) <= MAX_COMPRESSION_RATIO, text
        assert len(text.split()) <= 10, text  # the loops ran to 29 "words" and more
    assert fixed.transcribe([clips["a"]]) == transcriber.transcribe([clips["a"]])  # no loop
    again = Transcriber(fallback=True)
    first = Transcriber(fallback=True)._transcribe_with_fallback(loop, None)
    assert again._transcribe_with_fallback(loop, None) == first  # seeded: reproducible
