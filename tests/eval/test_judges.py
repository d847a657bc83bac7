"""The judges' metric plumbing against hand-computed values and real models on real speech."""

import numpy as np
import pytest

from llasa.eval.judges import error_counts


def test_error_counts_match_hand_computed_values():
    # "the cat sat" vs "the cat sat down": one insertion over 3 words.
    assert error_counts("The cat sat.", "the cat sat down", "en", "wer") == (1, 3)
    # substitution + deletion: "a b c d" vs "a x c" → 2 errors / 4 words.
    assert error_counts("a b c d", "a x c", "en", "wer") == (2, 4)
    # numbers are normalised on both sides: "21" == "twenty-one".
    assert error_counts("I am 21.", "i am twenty one", "en", "wer") == (0, 4)
    # CER over characters with spaces removed for zh: 1 substitution / 4 characters.
    assert error_counts("你好世界", "你好时界", "zh", "cer") == (1, 4)
    # an empty hypothesis deletes every reference word.
    assert error_counts("one two three", "", "en", "wer") == (3, 3)


def test_intelligibility_right_and_wrong_transcript(judges, speech):
    text = "The quick brown fox jumps over the lazy dog."
    audio = speech(text)
    right, wrong = judges.intelligibility([audio, audio],
                                          [text, "Completely different words are here."], "en")
    assert right["wer"] <= 0.25 and right["hyp"]  # espeak is robotic: tiny.en may slip once
    assert wrong["wer"] >= 0.8  # the wrong reference raises WER
    assert wrong["wer_ref_len"] == 5 and wrong["wer_errors"] >= 4


def test_similarity_identical_vs_other_voice(judges, speech):
    a = speech("The museum opens at nine every morning.", voice="en-us+m3")
    other = speech("The museum opens at nine every morning.", voice="en-gb+f2", pitch=80)
    same, diff = judges.similarity([a, other], a)
    assert same == pytest.approx(1.0, abs=1e-4)
    assert diff < same - 0.05


def test_quality_and_describe(judges, speech):
    a = speech("She planted tomatoes in the back garden.")
    rng = np.random.default_rng(0)
    noisy = a + 0.2 * rng.standard_normal(a.size).astype(np.float32)
    clean_mos, noisy_mos = judges.quality([a, noisy])
    assert 1.0 <= noisy_mos < clean_mos <= 5.0
    desc = judges.describe()
    assert "tiny.en" in desc["asr"] and "SpeakerSimilarity" in desc["sim"]
    assert "DNSMOS" in desc["mos"]


def test_english_only_asr_refuses_chinese_lists_up_front(judges):
    from llasa._common.errors import InputError

    judges.check_languages({"en"})
    with pytest.raises(InputError, match=r"English-only .*\['zh'\].*whisper-large-v3"):
        judges.check_languages({"en", "zh"})


def test_asr_fallback_judge_is_built_and_described():
    from llasa._common.errors import InputError
    from llasa.eval.judges import Judges

    j = Judges.build(sim=None, mos=None, asr_fallback=True)
    assert j.asr.fallback and "fallback=True" in j.describe()["asr"]
    assert "fallback=False" in Judges.build(sim=None, mos=None).describe()["asr"]
    with pytest.raises(InputError, match="asr-fallback"):
        Judges.build(asr="hf-asr:openai/whisper-tiny", sim=None, mos=None, asr_fallback=True)
