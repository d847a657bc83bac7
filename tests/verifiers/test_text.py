"""Text normalisation, number spelling and WER/CER (llasa.verifiers.text)."""

import pytest

from llasa._common.errors import InputError
from llasa.verifiers.text import (cer, error_rate, is_no_space_language, normalize_text,
                                  number_to_words, wer)


@pytest.mark.parametrize("n,words", [
    (0, "zero"), (7, "seven"), (13, "thirteen"), (20, "twenty"), (21, "twenty one"),
    (100, "one hundred"), (105, "one hundred five"), (1000, "one thousand"),
    (1021, "one thousand twenty one"), (2_500_000, "two million five hundred thousand"),
    (10**12, "one zero zero zero zero zero zero zero zero zero zero zero zero"),
])
def test_number_to_words(n, words):
    assert number_to_words(n) == words


@pytest.mark.parametrize("n,words", [(1, "first"), (2, "second"), (3, "third"), (4, "fourth"),
                                     (12, "twelfth"), (20, "twentieth"), (101, "one hundred first")])
def test_ordinals(n, words):
    assert number_to_words(n, ordinal=True) == words


def test_normalize_case_punctuation_whitespace():
    assert normalize_text("  Hello,   WORLD!  How's it going?? ") == "hello world hows it going"


def test_normalize_numbers_match_words():
    assert normalize_text("I have 21 cats.") == normalize_text("i have twenty-one cats")
    assert normalize_text("It is 3.5% of 1,000.") == "it is three point five percent of one thousand"
    assert normalize_text("the 2nd day") == "the second day"


def test_chinese_removes_spaces_and_punctuation():
    assert normalize_text("你好， 世界。", "zh") == "你好世界"
    assert is_no_space_language("zh") and is_no_space_language("ja-JP")
    assert not is_no_space_language("en")


def test_wer_and_cer_values():
    assert wer("the cat sat", "The cat sat.") == 0.0
    assert wer("the cat sat", "the dog sat") == pytest.approx(1 / 3)
    assert wer("one two three four", "one two three four five six") == pytest.approx(0.5)
    assert cer("abcd", "abxd") == pytest.approx(0.25)
    assert cer("你好世界", "你好世介", "zh") == pytest.approx(0.25)
    assert wer("the cat", "") == 1.0 and cer("the cat", "") == 1.0


def test_error_rate_auto_uses_cer_for_chinese():
    assert error_rate("你好世界", "你好世介", "zh") == pytest.approx(0.25)
    assert error_rate("hello big world", "hello world", "en") == pytest.approx(1 / 3)
    with pytest.raises(InputError, match="metric"):
        error_rate("a", "a", metric="bleu")


def test_empty_reference_is_input_error():
    with pytest.raises(InputError, match="empty after normalisation"):
        wer("?!", "hello")
    with pytest.raises(InputError, match="string"):
        normalize_text(None)


def test_normalize_amounts_times_years_phones():
    # what Whisper prints vs how our corpus sentences spell it
    assert normalize_text("It costs $34.31.") == \
        normalize_text("It costs thirty four dollars and thirty one cents.")
    assert normalize_text("$1") == "one dollar"
    assert normalize_text("Meet at 10:45 or 6:00.") == "meet at ten forty five or six oclock"
    assert normalize_text("Born in 1926, 1900 and 1905.") == \
        "born in nineteen twenty six nineteen hundred and nineteen oh five"
    assert normalize_text("in 2005") == "in two thousand five"
    assert normalize_text("Call 826-4423.") == "call eight two six four four two three"
    # not years: with a comma, a decimal or a percent sign they stay plain numbers
    assert normalize_text("1,926") == "one thousand nine hundred twenty six"
    assert normalize_text("1926.5") == "one thousand nine hundred twenty six point five"


def test_corpus_spelling_matches_normalisation():
    from llasa.training.data.sentences import year_to_words as corpus_years

    for y in (1920, 1933, 1905, 1900, 2005):
        assert normalize_text(str(y)) == normalize_text(corpus_years(y))


def test_judge_reads_written_forms_like_the_frontend():
    # the references of the WER judge go through the same normaliser as the LM frontend
    from llasa._common.textnorm import normalize_english

    written = "On 3 May 2021 it cost $45, at 5 p.m. with Dr. Smith (50 km)."
    assert normalize_text(written) == normalize_text(normalize_english(written)) == (
        "on the third of may twenty twenty one it cost forty five dollars at five p m with "
        "doctor smith fifty kilometers")
    assert wer(written, "On the 3rd of May 2021, it cost 45 dollars at 5 PM with Doctor Smith, "
                        "fifty kilometers.") == 0.0
