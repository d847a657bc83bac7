"""Official pre-tokenised memmap (``*_input_ids.memmap`` + shape file) → our shards."""

import json

import numpy as np
import pytest

from llasa._common.errors import InputError
from llasa.lm.tiny import tiny_tokenizer
from llasa.lm.tokens import SpeechVocab
from llasa.training.data import shards as sh
from llasa.training.data.import_official import (export_official, import_official,
                                                 open_official, parse_row)

K = 4096


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer(codebook_size=K)


def _official_file(tmp_path, tok, rows, L=48):
    """Write rows the way LLaSA_training's get_memmap_from_token.py lays them out."""
    v = SpeechVocab.from_tokenizer(tok)
    pad = tok.convert_tokens_to_ids("<|eot_id|>")
    mm = np.memmap(tmp_path / "train_input_ids.memmap", dtype=np.int32, mode="w+",
                   shape=(len(rows), L))
    mm[:] = pad
    for i, r in enumerate(rows):
        if isinstance(r, tuple):
            text, codes = r
            ids = ([v.text_start] + tok(text, add_special_tokens=False)["input_ids"]
                   + [v.text_end, v.speech_start] + [c + v.speech_offset for c in codes]
                   + [v.speech_end])
        else:
            ids = r
        ids = ids[:L]
        mm[i, :len(ids)] = ids
    mm.flush()
    np.save(tmp_path / "train_input_ids_shape.npy", np.array([len(rows), L]))
    return tmp_path / "train_input_ids.memmap"


def test_import_rows_and_report_bad_ones(tmp_path, tok):
    v = SpeechVocab.from_tokenizer(tok)
    good = [("Hello there.", [0, 1, 4095, 17]), ("Second, with ünicode?", [5] * 9),
            ("Third.", [123])]
    rows = [good[0], ("Cut.", list(range(60))), good[1],
            [v.speech_start, 300 + v.speech_offset, v.speech_end],  # no text markers
            [v.text_start, 65, v.text_end, v.speech_start, 66, v.speech_end],  # text id in speech
            good[2]]
    path = _official_file(tmp_path, tok, rows)
    idx = import_official(path, tmp_path / "out", tok, shard_size=4)
    assert idx["num_items"] == 3 and idx["num_skipped"] == 3 and idx["complete"]
    ds = sh.CodeShards(tmp_path / "out")
    assert [(u.text, u.codes.tolist()) for u in ds] == [(t, c) for t, c in good]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    reasons = [s["reason"] for s in report["skipped"]]
    assert reasons[0].startswith("truncated") and reasons[1].startswith("malformed")
    assert "non-speech" in reasons[2]
    # resumable: a second run finds both shards done and changes nothing
    again = import_official(tmp_path / "train_input_ids_shape.npy", tmp_path / "out", tok,
                            shard_size=4)
    assert again["num_items"] == 3


def test_export_then_import_round_trip(tmp_path, tok):
    rng = np.random.default_rng(0)
    codes = [rng.integers(0, K, n) for n in (5, 20, 1)]
    texts = ["One.", "Two words.", "Three: 3!"]
    sh.write_shard(tmp_path / "a", 0, codes=codes, texts=texts, speakers=[None] * 3,
                   codebook_size=K)
    sh.build_index(tmp_path / "a", 1)
    mm = export_official(tmp_path / "a", tmp_path / "off" / "val", tok, max_len=64)
    assert open_official(mm).shape == (3, 64)
    import_official(mm, tmp_path / "b", tok)
    got = [(u.text, u.codes.tolist()) for u in sh.CodeShards(tmp_path / "b")]
    assert got == [(t, c.tolist()) for t, c in zip(texts, codes)]


def test_bad_files(tmp_path, tok):
    with pytest.raises(InputError, match="expected an official"):
        open_official(tmp_path / "x.bin")
    with pytest.raises(InputError, match="not found"):
        open_official(tmp_path / "train_input_ids.memmap")
    path = _official_file(tmp_path, tok, [("Hi.", [1])])
    np.save(tmp_path / "train_input_ids_shape.npy", np.array([2, 48]))  # wrong N
    with pytest.raises(InputError, match="do not belong together"):
        open_official(path)
    v = SpeechVocab.from_tokenizer(tok)
    assert parse_row(np.array([v.text_end, v.text_start, v.speech_start]), v).startswith(
        "malformed")
