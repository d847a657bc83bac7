import pytest

from llasa._common.errors import InputError
from llasa.tts.text import TextLimits, check_text, chunk_text, normalize_text, split_sentences


def test_normalize_collapses_whitespace_controls_and_typography():
    raw = "  \u201cHi\u201d\tthere\u2014friend\u2019s\x00 dog\u200b.\n\nNext  "
    assert normalize_text(raw) == "\"Hi\" there - friend's dog. Next"
    assert normalize_text(" \n\t ") == ""
    with pytest.raises(InputError):
        normalize_text(None)


def test_check_text_rejects_empty_and_too_long():
    with pytest.raises(InputError, match="empty"):
        check_text("   \n")
    with pytest.raises(InputError, match="over the limit of 10"):
        check_text("x" * 11, TextLimits(max_chars=10, chunk_chars=5))
    assert check_text(" ok ") == "ok"
    with pytest.raises(InputError):
        TextLimits(max_chars=10, chunk_chars=11)


def test_split_sentences_keeps_abbreviations_and_initials():
    t = "Hello Dr. Smith. How are you? I am fine! J. Doe said \"yes.\" Fin"
    assert split_sentences(t) == ["Hello Dr. Smith.", "How are you?", "I am fine!",
                                  "J. Doe said \"yes.\"", "Fin"]
    assert split_sentences("\u4f60\u597d\u3002\u4e16\u754c\u3002") == ["\u4f60\u597d\u3002",
                                                                     "\u4e16\u754c\u3002"]


@pytest.mark.parametrize("max_chars", [1, 7, 20, 45, 300])
def test_chunks_respect_limit_and_rebuild_text(max_chars):
    text = ("The quick brown fox jumps over the lazy dog. It was, by all accounts, a "
            "remarkably energetic fox; nobody expected it. Supercalifragilistic words happen! "
            "Short. End?")
    chunks = chunk_text(text, max_chars)
    assert all(0 < len(c) <= max_chars for c in chunks), chunks
    if max_chars >= 20:  # longer than every word: no word is cut
        assert " ".join(chunks) == normalize_text(text)
    else:
        assert "".join(chunks).replace(" ", "") == normalize_text(text).replace(" ", "")


def test_chunks_pack_sentences_and_split_at_sentence_ends():
    text = "One two. Three four. Five six seven eight nine ten eleven."
    assert chunk_text(text, 20) == ["One two. Three four.", "Five six seven eight",
                                    "nine ten eleven."]
    assert chunk_text("", 10) == []
    with pytest.raises(InputError):
        chunk_text("x", 0)


def test_chunks_of_text_without_spaces():
    chunks = chunk_text("\u5b57" * 45, 20)
    assert [len(c) for c in chunks] == [20, 20, 5]
