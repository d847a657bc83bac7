"""bench/natural_paired.py: paired figures of two LMs against the recordings, from eval folders."""

import importlib.util
import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "natural_paired.py"


def _write(folder: Path, rows):
    folder.mkdir(parents=True)
    (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_paired_table_and_json(tmp_path, monkeypatch, capsys):
    runs = tmp_path / "ev"
    _write(runs / "rec" / "text", [{"utt": "a", "wer": 0.1}, {"utt": "b", "wer": 0.3}])
    for seed, (old, new) in {"0": ((0.5, 1.5), (0.2, 0.4)), "1": ((0.3, 0.5), (0.1, 0.3))}.items():
        _write(runs / "old" / f"s{seed}" / "text",
               [{"utt": "a", "wer": old[0], "ended": True}, {"utt": "b", "wer": old[1]}])
        _write(runs / "new" / f"s{seed}" / "text",
               [{"utt": "a", "wer": new[0], "ended": True}, {"utt": "b", "wer": new[1],
                                                           "ended": True}])
    spec = importlib.util.spec_from_file_location("natural_paired", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "p.json"
    monkeypatch.setattr(sys, "argv", ["x", str(runs), "--seeds", "0,1", "--json", str(out)])
    mod.main()
    fig = json.loads(out.read_text())["text"]
    assert fig["n"] == 4 and abs(fig["rec_wer"] - 0.2) < 1e-9
    assert abs(fig["old_wer"] - 0.7) < 1e-9 and abs(fig["new_wer"] - 0.25) < 1e-9
    assert abs(fig["old_wer_capped"] - 0.575) < 1e-9  # the 1.5 counts as 1
    assert abs(fig["diff"] + 0.45) < 1e-9 and abs(fig["new_ratio"] - 1.25) < 1e-9
    assert fig["old_ended"] == 0.5 and fig["new_ended"] == 1.0
    assert "| text | 4 |" in capsys.readouterr().out
