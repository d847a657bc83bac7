"""The generated sentence list: deterministic, varied, disjoint train / held-out split."""

from pathlib import Path

import numpy as np
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


def test_open_style_is_varied_and_keeps_the_template_list_unchanged():
    from llasa.training.data import grammar

    a = generate_sentences(3000, seed=1, style="open")
    assert a == generate_sentences(3000, seed=1, style="open")
    allsent = a.train + a.heldout
    assert len(set(allsent)) == 3000 and not set(a.train) & set(a.heldout)
    assert all(is_heldout(s, 0.05) for s in a.heldout)
    words = [len(s.split()) for s in allsent]
    # one-word replies to long joined clauses, and every sentence shape
    assert min(words) == 1 and max(words) >= 15
    assert sum(n <= 3 for n in words) > 150 and sum(n >= 10 for n in words) > 150
    assert sum(s.endswith("?") for s in allsent) > 200
    assert sum(s.endswith("!") for s in allsent) > 100
    assert any(s.startswith(("Please ", "Do not ")) for s in allsent)
    assert not any(ch.isdigit() for s in allsent for ch in s)
    assert all(s[0].isupper() and s[-1] in ".?!" for s in allsent)
    # the open text is not the templates': few sentences share a template sentence's opening
    tmpl = generate_sentences(3000, seed=1)
    opens = {" ".join(s.split()[:3]) for s in tmpl.train}
    assert sum(" ".join(s.split()[:3]) in opens for s in allsent) < 300
    vocab = {w.strip(".,?!").lower() for s in allsent for w in s.split()}
    assert len(vocab) > 400
    # agreement: a third-person subject takes "does" and the -s form
    assert not any(s.startswith(("Do he ", "Do she ", "Does I ", "Does you ")) for s in allsent)
    assert grammar.open_sentence.__module__ == "llasa.training.data.grammar"
    # the default (templates) stays the list the shipped corpus was made from
    shipped = (Path(__file__).resolve().parents[2] / "data" / "sentences" / "train.txt")
    assert generate_sentences(4000).train == shipped.read_text().splitlines()
    mixed = generate_sentences(2000, seed=1, style="mixed")
    share = np.mean([" ".join(s.split()[:3]) in opens for s in mixed.train + mixed.heldout])
    assert 0.3 < share < 0.7  # about half from each
    with pytest.raises(InputError, match="unknown sentence style"):
        generate_sentences(10, style="poems")
