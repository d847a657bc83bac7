"""List parsers: both formats load, paths resolve relative to the list, bad lines are named."""

import json

import pytest

from llasa._common.errors import InputError
from llasa.eval.testsets import EvalItem, guess_language, load_list


@pytest.fixture
def lst_dir(tmp_path):
    (tmp_path / "wavs").mkdir()
    for name in ("p1.wav", "p2.wav", "t1.wav"):
        (tmp_path / "wavs" / name).write_bytes(b"RIFF")  # existence is all the parser checks
    return tmp_path


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_seedtts_list_parses_and_resolves_paths(lst_dir):
    lst = _write(lst_dir / "meta.lst", [
        "# comment lines and blank lines are skipped", "",
        "u1|Prompt one.|wavs/p1.wav|Hello world.",
        "u2|提示|wavs/p2.wav|你好世界|wavs/t1.wav",
    ])
    items = load_list(lst)
    assert [i.utt for i in items] == ["u1", "u2"]
    assert items[0].prompt_wav == (lst_dir / "wavs" / "p1.wav").resolve()
    assert items[0].language == "en" and items[0].metric == "wer"
    assert items[1].language == "zh" and items[1].metric == "cer"
    assert items[1].reference_wav == (lst_dir / "wavs" / "t1.wav").resolve()
    assert load_list(lst, language="en")[1].language == "en"


def test_jsonl_list_parses(lst_dir):
    lst = _write(lst_dir / "list.jsonl", [
        json.dumps({"utt": "a", "target_text": "Plain TTS line."}),
        json.dumps({"utt": "b", "target_text": "Cloned.", "prompt_text": "Hi.",
                    "prompt_wav": "wavs/p1.wav", "language": "en"}),
    ])
    a, b = load_list(lst)
    assert a.prompt_wav is None and a.prompt_text is None
    assert b.prompt_wav == (lst_dir / "wavs" / "p1.wav").resolve()


@pytest.mark.parametrize("bad_line, needle", [
    ("u9|only three|fields", "expected 4 fields"),
    ("u9|text|wavs/missing.wav|target", "prompt audio file not found"),
    ("u9|text|wavs/p1.wav|   ", "target text (field 4) is empty"),
    ("|text|wavs/p1.wav|target", "utterance id (field 1) is empty"),
    ("bad id!|text|wavs/p1.wav|target", "bad utterance id"),
    ("u1|text|wavs/p1.wav|duplicate id", "already used on line 1"),
])
def test_seedtts_bad_line_is_named(lst_dir, bad_line, needle):
    lst = _write(lst_dir / "meta.lst", ["u1|Prompt.|wavs/p1.wav|Hello.", "", bad_line])
    with pytest.raises(InputError) as e:
        load_list(lst)
    assert needle in str(e.value)
    assert f"{lst}, line 3" in str(e.value)


@pytest.mark.parametrize("bad_line, needle", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    (json.dumps({"utt": "x"}), "'target_text' is missing"),
    (json.dumps({"utt": "x", "target_text": "t", "txt": "typo"}), "unknown key(s) ['txt']"),
    (json.dumps({"utt": "x", "target_text": "t", "prompt_wav": "wavs/p1.wav"}),
     "give both prompt text and prompt audio"),
    (json.dumps({"utt": "x", "target_text": "t", "language": "fr"}), "language 'fr'"),
])
def test_jsonl_bad_line_is_named(lst_dir, bad_line, needle):
    lst = _write(lst_dir / "l.jsonl", [json.dumps({"utt": "ok", "target_text": "fine"}), bad_line])
    with pytest.raises(InputError) as e:
        load_list(lst)
    assert needle in str(e.value)
    assert "line 2" in str(e.value)


def test_empty_and_missing_lists(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_list(tmp_path / "nope.lst")
    with pytest.raises(InputError, match="no utterances"):
        load_list(_write(tmp_path / "e.lst", ["# nothing"]))


def test_guess_language_and_item_validation():
    assert guess_language("Hello") == "en" and guess_language("今天 ok") == "zh"
    with pytest.raises(InputError, match="target text is empty"):
        EvalItem(utt="a", target_text=" ")


@pytest.mark.parametrize("utt", ["x\n", "a\nb", "../x"])
def test_utterance_ids_are_matched_whole(utt):
    """The id is an output file stem: a final newline ("$" allowed it) is refused too."""
    with pytest.raises(InputError, match="bad utterance id"):
        EvalItem(utt=utt, target_text="t")
