"""Shard format: round trip, memory mapping, atomicity, index, validation."""

import json

import numpy as np
import pytest

from llasa._common.errors import InputError
from llasa.training.data import shards as sh


def _write(root, idx, n=3, K=65536, seed=0):
    rng = np.random.default_rng(seed + idx)
    codes = [rng.integers(0, K, int(rng.integers(1, 40))) for _ in range(n)]
    texts = [f"utterance {idx}-{i} é" for i in range(n)]
    spk = ["bob" if i % 2 else None for i in range(n)]
    sh.write_shard(root, idx, codes=codes, texts=texts, speakers=spk, codebook_size=K,
                   sources=[f"s{i}" for i in range(n)],
                   skipped=[{"audio": f"bad{idx}", "reason": "silent"}])
    return codes, texts, spk


def test_round_trip_memmap_and_index(tmp_path):
    a = _write(tmp_path, 0)
    b = _write(tmp_path, 1, n=2)
    idx = sh.build_index(tmp_path, expected_shards=2)
    assert idx["complete"] and idx["num_items"] == 5 and idx["num_skipped"] == 2
    assert json.loads((tmp_path / "report.json").read_text())["num_skipped"] == 2
    ds = sh.CodeShards(tmp_path)
    assert len(ds) == 5 and ds.num_shards == 2 and ds.speakers == ["bob"]
    codes, texts, spk = (a[0] + b[0], a[1] + b[1], a[2] + b[2])
    for i in range(5):
        u = ds[i]
        assert np.array_equal(u.codes, codes[i]) and u.codes.dtype == np.int64
        assert (u.text, u.speaker) == (texts[i], spk[i])
    assert np.array_equal(ds.lengths, [len(c) for c in codes])
    assert ds[-1].text == texts[-1]
    assert [ds.source(i) for i in range(5)] == ["s0", "s1", "s2", "s0", "s1"]
    assert np.load(tmp_path / "shard-00000" / "codes.npy").dtype == np.uint16  # 2 bytes/code
    assert isinstance(ds._codes[0], np.memmap)
    ds.validate()
    with pytest.raises(IndexError):
        ds[5]


def test_bad_codes_refused(tmp_path):
    with pytest.raises(InputError, match="outside the codebook"):
        sh.write_shard(tmp_path, 0, codes=[np.array([0, 16])], texts=["x"], speakers=[None],
                       codebook_size=16)
    with pytest.raises(InputError, match="one entry per utterance"):
        sh.write_shard(tmp_path, 0, codes=[np.array([0])], texts=[], speakers=[None],
                       codebook_size=16)
    assert not list(tmp_path.glob("shard-*"))


def test_stale_temp_folder_is_not_a_shard(tmp_path):
    _write(tmp_path, 0)
    stale = tmp_path / ".shard-00001.tmp999"  # what a kill -9 mid-write leaves behind
    stale.mkdir()
    (stale / "codes.npy").write_bytes(b"garbage")
    assert not sh.shard_done(tmp_path, 1)
    sh.clean_stale(tmp_path, 1)
    assert not stale.exists()
    sh.build_index(tmp_path, expected_shards=2)
    with pytest.raises(InputError, match="has not finished"):
        sh.CodeShards(tmp_path)
    assert len(sh.CodeShards(tmp_path, allow_incomplete=True)) == 3


def test_corruption_detected(tmp_path):
    _write(tmp_path, 0, K=100)
    np.save(tmp_path / "shard-00000" / "codes.npy", np.array([5, 200], np.uint16))
    with pytest.raises(InputError, match="offsets do not match|outside the codebook"):
        sh.CodeShards(tmp_path).validate()
    with pytest.raises(InputError, match="no prepared shards"):
        sh.CodeShards(tmp_path / "empty")


def test_large_codebook_uses_int32(tmp_path):
    sh.write_shard(tmp_path, 0, codes=[np.array([70000])], texts=["x"], speakers=[None],
                   codebook_size=1 << 17)
    assert sh.CodeShards(tmp_path)[0].codes.tolist() == [70000]


def test_several_folders_read_as_one(tmp_path):
    a_root, b_root = tmp_path / "a", tmp_path / "b"
    a = _write(a_root, 0, n=3)
    sh.build_index(a_root, expected_shards=1)
    b0 = _write(b_root, 0, n=2, seed=7)
    b1 = _write(b_root, 1, n=1, seed=7)
    sh.build_index(b_root, expected_shards=2)
    ds = sh.CodeShards([a_root, str(b_root)])
    codes, texts = a[0] + b0[0] + b1[0], a[1] + b0[1] + b1[1]
    assert len(ds) == 6 and ds.num_shards == 3 and ds.roots == [a_root, b_root]
    for i in range(6):
        assert np.array_equal(ds.codes(i), codes[i]) and ds.text(i) == texts[i]
    assert np.array_equal(ds.lengths, [len(c) for c in codes])
    assert ds.index["num_skipped"] == 3  # one skipped input recorded per shard
    ds.validate()
    assert len(sh.CodeShards([a_root])) == 3  # a one-item list is the folder itself
    with pytest.raises(InputError, match="named twice"):
        sh.CodeShards([a_root, a_root])
    with pytest.raises(InputError, match="no prepared folder"):
        sh.CodeShards([])
    c_root = tmp_path / "c"  # another codec's codes cannot be mixed in
    sh.write_shard(c_root, 0, codes=[np.arange(4)], texts=["x"], speakers=[None],
                   codebook_size=4096)
    with pytest.raises(InputError, match="codebook size"):
        sh.CodeShards([a_root, c_root])
    sh.build_index(b_root, expected_shards=3)  # b is now unfinished: it names its folder
    with pytest.raises(InputError, match=f"{b_root}: preparation has not finished"):
        sh.CodeShards([a_root, b_root])
