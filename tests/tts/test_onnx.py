"""The ONNX engine (llasa.tts.onnx) against the torch engine it replaces for the shipped model.

- the shipped export was made from the shipped weights (sha256) and still gives the torch
  engine's greedy tokens and audio (so a retrained model without a new export fails here);
- seeded sampling repeats run to run and stays in the speech vocabulary;
- `export_onnx` round-trips a different model (tiny LM with grouped KV heads, tiny codec).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from llasa.tts.onnx import MANIFEST, default_onnx_dir, find_export, load_onnx, source_hashes
from llasa.tts.defaults import default_model_dir
from llasa.tts.voices import Voice

TEXTS = ["Please close the window before you leave.", "My brother works as a pilot in Toronto.",
         "Is it raining, or not?"]


@pytest.fixture(scope="module")
def onnx_tts():
    return load_onnx()


@pytest.fixture(scope="module")
def torch_tts():
    import torch

    from llasa.tts import Llasa

    # one thread: on a shared 2-core machine a spinning pool of two can run 10x slower
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield Llasa.from_pretrained(device="cpu", dtype="fp32")
    torch.set_num_threads(threads)


def test_shipped_export_was_made_from_the_shipped_weights():
    d = default_model_dir()
    manifest = json.loads((default_onnx_dir() / MANIFEST).read_text())
    assert manifest["sources"] == source_hashes(d / "lm", d / "codec"), (
        "the shipped model changed: run `llasa export onnx -o src/llasa/models/default/onnx`")
    assert find_export() == default_onnx_dir()
    assert find_export(str(d / "lm")) is None  # a checkpoint folder is not an export


def test_greedy_matches_torch(onnx_tts, torch_tts):
    for text in TEXTS:
        assert onnx_tts.build_prompt(text) == torch_tts.build_prompt(text)
        a = onnx_tts.synthesize(text, do_sample=False)
        b = torch_tts.synthesize(text, do_sample=False)
        np.testing.assert_array_equal(a.codes, b.codes, err_msg=text)
        assert a.info["tokens"] == b.info["tokens"] and a.info["ended"] == b.info["ended"]
        assert np.abs(a.audio - b.audio).max() < 1e-4, text


def test_cloning_matches_torch(onnx_tts, torch_tts):
    ref = torch_tts.synthesize(TEXTS[0], do_sample=False)
    voice = Voice(TEXTS[0], ref.codes, ref.audio, torch_tts.codec.codebook_size)
    assert onnx_tts.build_prompt(TEXTS[1], voice) == torch_tts.build_prompt(TEXTS[1], voice)
    a = onnx_tts.synthesize(TEXTS[1], voice, do_sample=False, max_new_tokens=60)
    b = torch_tts.synthesize(TEXTS[1], voice, do_sample=False, max_new_tokens=60)
    np.testing.assert_array_equal(a.codes, b.codes)
    assert np.abs(a.audio - b.audio).max() < 1e-4


def test_seeded_sampling_repeats_and_speaks(onnx_tts):
    runs = [onnx_tts.synthesize(TEXTS[0], seed=s) for s in (5, 5, 6)]
    np.testing.assert_array_equal(runs[0].codes, runs[1].codes)
    np.testing.assert_array_equal(runs[0].audio, runs[1].audio)
    assert not np.array_equal(runs[0].codes, runs[2].codes)
    cap = runs[0].info["max_new_tokens"]
    for r in runs:
        assert r.codes.min() >= 0 and r.codes.max() < 4096
        assert r.info["tokens"] == len(r.codes) + int(r.info["ended"]) <= cap
        assert 1.0 < r.duration < 6.0  # a 7-word sentence
        assert np.sqrt(np.mean(r.audio ** 2)) > 0.01  # not silent
        assert np.abs(r.audio).max() <= 1.5


def test_sampling_options_and_errors(onnx_tts):
    from llasa._common.errors import InputError

    r = onnx_tts.synthesize(TEXTS[2], seed=0, temperature=0.9, top_p=0.9, top_k=0, min_p=0.02,
                            repetition_penalty=1.2, repetition_window=20, max_new_tokens=30)
    assert r.info["tokens"] <= 30
    d = onnx_tts.synthesize(TEXTS[2], duration=1.0, seed=0)
    assert len(d.audio) == 16000
    with pytest.raises(InputError, match="guidance"):
        onnx_tts.synthesize(TEXTS[2], cfg_scale=2.0)
    with pytest.raises(InputError, match="decode"):
        onnx_tts.voice_from_audio(np.zeros(16000, np.float32), "Hi.")
    with pytest.raises(InputError, match="stream"):
        list(onnx_tts.stream(TEXTS[2]))


def test_batch_and_long_text_run_without_torch(onnx_tts):
    import subprocess
    import sys

    batch = onnx_tts.synthesize_batch(TEXTS[:2], do_sample=False)
    for text, r in zip(TEXTS, batch):
        np.testing.assert_array_equal(r.codes, onnx_tts.synthesize(text, do_sample=False).codes)
    code = ("import sys; from llasa import Llasa; t = Llasa.from_onnx(); "
            "r = t.synthesize(' '.join(['My brother works as a pilot in Toronto.'] * 6), "
            "seed=1); assert r.info['chunks'] == 2 and r.duration > 4, r.info; "
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_export_round_trip_of_another_model(tmp_path, tiny_codec):
    import torch

    from llasa.lm.tiny import tiny_lm
    from llasa.tts import Llasa
    from llasa.tts.onnx import export_onnx

    lm = tiny_lm(codebook_size=16, seed=1, num_heads=4, num_kv_heads=2)
    with torch.no_grad():  # scaled up so it ends early and its greedy output varies
        for p in lm.model.parameters():
            if p.ndim == 2:
                p.mul_(25.0)
    lm.save_pretrained(tmp_path / "lm")
    tiny_codec.save_pretrained(tmp_path / "codec")
    out = export_onnx(tmp_path / "export", tmp_path / "lm", tmp_path / "codec")
    assert find_export(str(out)) == out
    fast = load_onnx(out)
    ref = Llasa.from_pretrained(tmp_path / "lm", tmp_path / "codec", device="cpu",
                                dtype="fp32")
    for text in ("Hello there.", "A second, longer sentence to speak."):
        a = fast.synthesize(text, do_sample=False, max_new_tokens=40)
        b = ref.synthesize(text, do_sample=False, max_new_tokens=40)
        np.testing.assert_array_equal(a.codes, b.codes)
        assert np.abs(a.audio - b.audio).max() < 1e-4
