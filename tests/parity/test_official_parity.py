"""Parity with the official ``xcodec2==0.1.5`` package, full size, on real espeak-ng speech.

The official network (823 M parameters) is built with seeded random weights, saved the way the
release stores it, loaded through ``Codec.from_pretrained`` and compared: identical codes from
encode, decode max |diff| <= 1e-4 against ``decode_code``. Also covered: the package's own
parametrizations weight-norm names inside a Lightning ``.ckpt`` with training-only modules.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest
import torch

from .official import build_official, official_available, original_state_dict

if not official_available():
    pytest.skip("official xcodec2==0.1.5 is not importable (scripts/install.sh installs it)",
                allow_module_level=True)

from llasa.codec import Codec  # noqa: E402
from llasa.codec.features import pad_waveform, semantic_features  # noqa: E402

DECODE_TOL = 1e-4
# Two short utterances of different lengths keep the runtime moderate (about 1 and 2 s).
TEXTS = [("Hello there.", "en-gb"), ("The quick brown fox jumps.", "en-us")]


@pytest.fixture(scope="module")
def official():
    torch.set_num_threads(max(1, torch.get_num_threads()))
    model = build_official(seed=1234)
    yield model
    del model
    gc.collect()


@pytest.fixture(scope="module")
def utterances(speech):
    return [speech(t, voice=v) for t, v in TEXTS]


@pytest.fixture(scope="module")
def official_codes(official, utterances):
    return [official.encode_code(torch.from_numpy(w)[None])[0, 0].long().numpy()
            for w in utterances]


def _check(codec, official, utterances, official_codes):
    ours = codec.encode(utterances)  # batched, variable length
    for i, (a, b) in enumerate(zip(ours, official_codes)):
        assert a.shape == b.shape, f"utterance {i}: {a.shape} vs {b.shape}"
        assert (a == b).all(), f"utterance {i}: {(a != b).sum()} of {len(a)} codes differ"
    for i, codes in enumerate(official_codes):
        ref = official.decode_code(torch.from_numpy(codes)[None, None])[0, 0].numpy()
        got = codec.decode(codes)[0]
        assert got.shape == ref.shape == (320 * len(codes),)
        err = float(np.abs(got - ref).max())
        print(f"utterance {i}: {len(codes)} codes, decode max|diff| {err:.2e}, "
              f"ref max|x| {np.abs(ref).max():.3f}")
        assert err <= DECODE_TOL, f"utterance {i}: decode max|diff| {err:.2e}"


def test_semantic_features_equal_official(official, utterances):
    for w in utterances:
        padded = pad_waveform(w)
        ref = official.feature_extractor(
            torch.nn.functional.pad(torch.from_numpy(padded), (160, 160)),
            sampling_rate=16000, return_tensors="pt").input_features[0]
        ours, mask = semantic_features([padded])
        assert ref.shape[0] == len(padded) // 320 == int(mask.sum())
        assert torch.equal(ours[0], ref.float())


def test_original_safetensors_parity(official, utterances, official_codes, tmp_path_factory):
    from safetensors.torch import save_file

    d = tmp_path_factory.mktemp("xcodec2-original")
    sd = original_state_dict(official, "legacy")
    assert any(k.endswith(".weight_g") for k in sd) and any(k.endswith("act.beta") for k in sd)
    assert any(".encoder.layers.23." in k for k in sd)  # the 24-layer w2v-BERT, as released
    save_file(sd, str(d / "model.safetensors"))
    (d / "config.json").write_text('{"model_type": "xcodec2", "semantic_hidden_size": 1024}')
    del sd
    codec = Codec.from_pretrained(d)
    _check(codec, official, utterances, official_codes)
    del codec
    # decode_only reads the same file but builds no encoder
    dec = Codec.from_pretrained(d / "model.safetensors", decode_only=True)
    assert not hasattr(dec.net, "semantic_encoder") and not hasattr(dec.net, "acoustic_encoder")
    ref = official.decode_code(torch.from_numpy(official_codes[0])[None, None])[0, 0].numpy()
    assert np.abs(dec.decode(official_codes[0])[0] - ref).max() <= DECODE_TOL
    del dec
    gc.collect()


def test_lightning_ckpt_with_parametrizations(official, utterances, official_codes,
                                              tmp_path_factory):
    d = tmp_path_factory.mktemp("xcodec2-ckpt")
    sd = original_state_dict(official, "parametrizations")
    assert any(k.endswith("parametrizations.weight.original0") for k in sd)
    sd["discriminator.convs.0.weight"] = torch.zeros(2, 1, 3)  # training-only modules are dropped
    sd["fc_post_s.weight"] = torch.zeros(4, 4)
    (d / "ckpt").mkdir()
    torch.save({"state_dict": sd, "epoch": 4, "global_step": 1_400_000},
               d / "ckpt" / "epoch=4-step=1400000.ckpt")
    del sd
    codec = Codec.from_pretrained(d)  # a directory with only ckpt/*.ckpt
    _check(codec, official, utterances[:1], official_codes[:1])
    del codec
    gc.collect()
