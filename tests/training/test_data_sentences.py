"""The generated sentence list: deterministic, varied, disjoint train / held-out split."""

import pytest

from llasa._common.errors import InputError
from llasa.training.data.sentences import (generate_sentences, is_heldout, number_to_words,
                                           read_sentence_file, year_to_words)


def test_numbers_in_words():
    assert number_to_words(0) == "zero"
    assert number_to_words(42) == "forty two"
    assert number_to_words(100) == "one hundred"
    assert number_to_words(123456) == "one hundred twenty three thousand four hundred fifty six"
    assert year_to_words(1987) == "nineteen eighty seven"
    assert year_to_words(2005) == "two thousand five"
    assert year_to_words(1905) == "nineteen oh five"
    with pytest.raises(InputError):
        number_to_words(-1)


def test_deterministic_split_and_variety():
    a = generate_sentences(1500, seed=3)
    b = generate_sentences(1500, seed=3)
    assert a == b
    assert a != generate_sentences(1500, seed=4)
    allsent = a.train + a.heldout
    assert len(allsent) == len(set(allsent)) == 1500
    assert not set(a.train) & set(a.heldout)
    assert 0.02 < len(a.heldout) / 1500 < 0.09  # ~5 %
    # membership depends on the text only, so the split is stable across list sizes
    bigger = generate_sentences(3000, seed=3)
    assert set(a.heldout) <= set(bigger.heldout)
    assert all(is_heldout(s, 0.05) for s in a.heldout)
    questions = sum(s.endswith("?") for s in allsent)
    words = [len(s.split()) for s in allsent]
    assert questions > 100 and min(words) <= 3 and max(words) >= 20
    assert not any(ch.isdigit() for s in allsent for ch in s)  # numbers are spelled out


def test_sentence_files(tmp_path):
    f = tmp_path / "s.txt"
    f.write_text("# comment\nHello there.\n\n  Second one.  \n")
    assert read_sentence_file(f) == ["Hello there.", "Second one."]
    (tmp_path / "e.txt").write_text("# only a comment\n")
    with pytest.raises(InputError, match="no sentences"):
        read_sentence_file(tmp_path / "e.txt")
    with pytest.raises(InputError, match="not found"):
        read_sentence_file(tmp_path / "missing.txt")
