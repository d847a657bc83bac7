"""`llasa data ...` end to end through the real CLI entry point (in-process)."""

import json

import numpy as np

from llasa.cli.main import main
from llasa.training.data import shards as sh


def test_sentences_and_synth_corpus(tmp_path, capsys):
    assert main(["data", "sentences", str(tmp_path / "s"), "--count", "200"]) == 0
    train = (tmp_path / "s" / "train.txt").read_text().splitlines()
    held = (tmp_path / "s" / "heldout.txt").read_text().splitlines()
    assert len(train) + len(held) == 200
    rc = main(["data", "synth-corpus", str(tmp_path / "c"), "--utterances", "4", "--speakers",
               "3", "--heldout-speakers", "1", "--workers", "1", "--preset", "clear",
               "--variants", "m1,f2",
               "--sentences", str(tmp_path / "s" / "train.txt"),
               "--heldout-sentences", str(tmp_path / "s" / "heldout.txt")])
    assert rc == 0
    rows = [json.loads(x) for x in (tmp_path / "c" / "manifest.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all((tmp_path / "c" / r["audio"]).is_file() for r in rows)
    assert "4 utterances" in capsys.readouterr().out
    info = json.loads((tmp_path / "c" / "corpus.json").read_text())
    assert info["config"]["variants"] == ["m1", "f2"] and info["config"]["speed"] == [130, 185]
    assert {s["voice"].split("+")[0] for s in info["speakers"]} <= {
        "en-us", "en-gb", "en-us-nyc", "en-gb-x-gbclan", "en-gb-x-rp"}


def test_info_and_errors_without_traceback(tmp_path, capsys):
    sh.write_shard(tmp_path, 0, codes=[np.arange(100), np.arange(50)], texts=["a", "b"],
                   speakers=["x", "y"], codebook_size=65536,
                   skipped=[{"audio": "z.wav", "reason": "silent"}])
    sh.build_index(tmp_path, 1)
    assert main(["data", "info", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "2 utterances in 1 shard(s)" in out and "2 speaker(s)" in out and "1 input(s)" in out
    assert main(["data", "info", str(tmp_path / "nothing")]) == 2
    assert "no prepared shards" in capsys.readouterr().err
    assert main(["data", "synth-corpus", str(tmp_path / "c"), "--speakers", "2",
                 "--heldout-speakers", "2"]) == 2
    assert "heldout_speakers" in capsys.readouterr().err
    assert main(["data", "prepare", str(tmp_path / "none.jsonl"), str(tmp_path / "o"),
                 "--codec", str(tmp_path / "no-codec")]) == 2
    assert "llasa: error:" in capsys.readouterr().err
