"""The resumable results log: durable appends, reopen skips done ids, torn lines are redone."""

import json

import pytest

from llasa._common.errors import InputError
from llasa.eval.records import ResultLog


def test_append_reopen_and_nan_as_null(tmp_path):
    path = tmp_path / "out" / "results.jsonl"
    log = ResultLog(path)
    log.append({"utt": "a", "wer": 0.5})
    log.append({"utt": "b", "wer": float("nan")})
    again = ResultLog(path)
    assert again.done == {"a", "b"} and len(again) == 2
    assert again.records()[1]["wer"] is None
    with pytest.raises(InputError, match="already"):
        again.append({"utt": "a"})
    with pytest.raises(InputError, match="'utt'"):
        again.append({"wer": 1.0})


def test_torn_last_line_is_dropped_and_redone(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"utt": "a", "wer": 0.1}) + "\n" + '{"utt": "b", "we')
    log = ResultLog(path)
    assert log.done == {"a"}
    log.append({"utt": "b", "wer": 0.2})
    lines = path.read_text().splitlines()
    assert [json.loads(x)["utt"] for x in lines] == ["a", "b"]


def test_corrupt_middle_line_is_an_error(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"utt": "a"}\ngarbage\n{"utt": "c"}\n')
    with pytest.raises(InputError, match="line 2"):
        ResultLog(path)
