"""Summaries: means, corpus error rates, markdown tables, PNG plots."""

import json

import pytest

from llasa.eval.plots import plot_distributions, plot_scaling
from llasa.eval.report import markdown_compare, markdown_summary, summarize, write_reports


RECORDS = [
    {"utt": "a", "wer": 0.0, "wer_errors": 0, "wer_ref_len": 10, "sim_o": 0.8, "mos": 3.0},
    {"utt": "b", "wer": 0.5, "wer_errors": 1, "wer_ref_len": 2, "sim_o": 0.6, "mos": None},
]


def test_summary_means_and_corpus_rate(tmp_path):
    s = summarize(RECORDS, task="tts", judges={"asr": "whisper tiny.en"})
    assert s["metrics"]["wer"]["mean"] == pytest.approx(0.25)  # mean of per-utterance WER
    assert s["corpus"]["wer"] == pytest.approx(1 / 12)  # total errors / total words
    assert s["metrics"]["sim_o"]["mean"] == pytest.approx(0.7)
    assert s["metrics"]["mos"] == {"mean": 3.0, "std": 0.0, "n": 1}  # null is skipped
    assert "jiwer" in s["versions"] and s["judges"]["asr"] == "whisper tiny.en"
    md = markdown_summary(s)
    assert "| WER (%) ↓ | 25.00 ± 25.00 | 2 |" in md and "| corpus WER (%) ↓ | 8.33 | |" in md
    paths = write_reports(s, tmp_path)
    assert json.loads(paths["json"].read_text())["num_utterances"] == 2


def test_compare_table_one_row_per_system():
    a = summarize(RECORDS, task="tts")
    b = summarize([{"utt": "a", "wer": 0.1, "sim_o": 0.9}], task="tts")
    md = markdown_compare({"ours": a, "peer": b})
    assert md.splitlines()[0] == "| system | n | WER (%) ↓ | SIM-o ↑ | MOS ↑ |"
    assert "| peer | 1 | 10.00 | 0.900 | – |" in md


def test_plots_write_png(tmp_path):
    p = plot_distributions(RECORDS, tmp_path / "dist.png")
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_distributions([{"utt": "x"}], tmp_path / "none.png") is None
    q = plot_scaling({"best-of-n": [(1, 0.3), (2, 0.2), (4, None)]}, tmp_path / "s.png",
                     metric="wer")
    assert q.stat().st_size > 1000
