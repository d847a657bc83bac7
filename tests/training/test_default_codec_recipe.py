"""recipes/default_codec.py (stage ``decoder`` of the default-model recipe): trains the decoder
on prepared codes, leaves the encoder (and so the codes) alone, resumes from its checkpoint,
and reads several prepared folders as one (stage ``decoder_more``)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from safetensors.torch import load_file

from lm_helpers import cached_prepared

SCRIPT = Path(__file__).resolve().parents[2] / "recipes" / "default_codec.py"


def _run(codec, prepared, out, steps):
    folders = [str(p) for p in (prepared if isinstance(prepared, list) else [prepared])]
    r = subprocess.run([sys.executable, str(SCRIPT), str(codec), *folders, str(out),
                        "--steps", str(steps), "--batch-size", "2", "--crop-seconds", "0.4",
                        "--save-every", "1"], capture_output=True, text=True,
                       env={"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
                            "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def test_decoder_stage_trains_the_decoder_only_and_resumes(speech, tmp_path):
    prepared = cached_prepared(speech)
    codec = prepared.parent / "codec"  # the codec that made those codes
    out = tmp_path / "dec"
    _run(codec, prepared, out, 2)
    rows = (out / "metrics.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows] == ["1", "2"]
    assert all(np.isfinite(float(r.split(",")[1])) for r in rows)
    before = load_file(str(next(codec.glob("*.safetensors"))))
    after = load_file(str(next((out / "model").glob("*.safetensors"))))
    assert before.keys() == after.keys()
    moved = {k for k in before if not np.array_equal(before[k].numpy(), after[k].numpy())}
    assert moved and all(k.startswith(("acoustic_decoder", "quantizer.project_out"))
                         for k in moved), sorted(moved)[:5]
    _run(codec, prepared, out, 3)  # same folder, more steps: continues at step 3
    rows = (out / "metrics.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows] == ["1", "2", "3"]


def test_decoder_stage_reads_several_prepared_folders(speech, tmp_path):
    # stage decoder_more: the codes of all training corpora, made by one encoder
    prepared = cached_prepared(speech)
    n = json.loads((prepared / "index.json").read_text())["num_items"]
    other = tmp_path / "other"
    shutil.copytree(prepared, other)
    out = _run(prepared.parent / "codec", [prepared, other], tmp_path / "dec", 1)
    assert f"{2 * n} utterances from 2 prepared folder(s)" in out
