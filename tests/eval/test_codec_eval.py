"""Codec reconstruction evaluation with a tiny real codec on the shipped espeak-ng clips."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from llasa._common.errors import InputError
from llasa.audio import load_audio
from llasa.eval.codec_eval import clips_from_dir, clips_from_items, evaluate_codec
from llasa.eval.codec_metrics import reconstruction_metrics


@pytest.fixture(scope="module")
def tiny_codec():
    from llasa.codec import presets
    from llasa.codec.model import Codec

    return Codec.from_config(presets.tiny(), seed=0)


def test_codec_eval_records_metrics_speed_and_resumes(tiny_codec, tiny_items, judges, tmp_path):
    clips = clips_from_items(tiny_items)
    s = evaluate_codec(tiny_codec, clips[:2], tmp_path, judges)
    recs = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [r["utt"] for r in recs] == ["tiny_00", "tiny_01"]
    for r in recs:
        assert r["codes"] >= int(r["seconds"] * 50)  # 50 codes per second of audio
        assert r["wer_gt"] < 0.4  # the original espeak clip is intelligible...
        assert r["wer"] > r["wer_gt"]  # ...a random codec's reconstruction is not
        # signal metrics are those of the actual round trip through the codec
        ref = load_audio(next(c.path for c in clips if c.name == r["utt"]))
        recon = tiny_codec.decode(tiny_codec.encode(ref)[0])[0]
        want = reconstruction_metrics(ref, recon)
        for key in ("stoi", "mel_l1", "pesq_wb", "pesq_nb"):
            assert r[key] == (None if np.isnan(want[key]) else pytest.approx(want[key])), key
        assert r["stoi"] < 0.9 and 0 <= r["sim"] <= 1 and 1 <= r["mos"] <= 5
        assert r["encode_s"] > 0 and r["decode_s"] > 0
        assert (tmp_path / "recon" / f"{r['utt']}.wav").exists()
    sp = s["speed"]
    assert sp["audio_seconds"] == pytest.approx(sum(r["seconds"] for r in recs))
    assert sp["encode_x_realtime"] > 0 and "Codec speed" in (tmp_path / "summary.md").read_text()
    # resume: a third clip is added, the first two lines stay as they were
    before = (tmp_path / "results.jsonl").read_text()
    s = evaluate_codec(tiny_codec, clips[:3], tmp_path, judges)
    after = (tmp_path / "results.jsonl").read_text()
    assert after.startswith(before) and len(after.splitlines()) == 3
    assert s["num_utterances"] == 3


def test_clips_from_dir_reads_sidecar_transcripts(tiny_items, tmp_path):
    shutil.copy(tiny_items[0].reference_wav, tmp_path / "a.flac")
    shutil.copy(tiny_items[1].reference_wav, tmp_path / "b.flac")
    (tmp_path / "a.txt").write_text("Please bring your ticket to the front desk.\n")
    a, b = clips_from_dir(tmp_path)
    assert (a.name, a.text, b.text) == ("a", "Please bring your ticket to the front desk.", None)
    with pytest.raises(InputError, match="no audio files"):
        clips_from_dir(_empty(tmp_path))
    with pytest.raises(InputError, match="not found"):
        clips_from_dir(tmp_path / "nope")


def _empty(tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    return d
