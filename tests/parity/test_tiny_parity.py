"""Fast parity: the official package's modules at a tiny size vs our conversion + Codec.

Same checks as the full-size test (identical codes on espeak-ng speech, decode <= 1e-4) in a
few seconds, plus the conversion's error paths on a real original-format state dict.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from .official import build_official_tiny, official_available, original_state_dict

if not official_available():
    pytest.skip("official xcodec2==0.1.5 is not importable (scripts/install.sh installs it)",
                allow_module_level=True)

from safetensors.torch import save_file  # noqa: E402

from llasa._common.errors import ModelLoadError  # noqa: E402
from llasa.codec import Codec  # noqa: E402


@pytest.fixture(scope="module")
def official():
    return build_official_tiny(seed=7)


@pytest.fixture(scope="module")
def waves(speech):
    return [speech("Hello world.", voice="en-us"), speech("A second, longer utterance here.",
                                                          voice="en-gb", speed=140)]


def _save(sd, d):
    d.mkdir(parents=True, exist_ok=True)
    save_file(sd, str(d / "model.safetensors"))
    return d


@pytest.mark.parametrize("form", ["legacy", "parametrizations"])
def test_tiny_official_parity(official, waves, tmp_path, form):
    codec = Codec.from_pretrained(_save(original_state_dict(official, form), tmp_path / form))
    assert codec.config.semantic_model_config.num_hidden_layers == 16  # 17 → 16
    ours = codec.encode(waves)
    for i, w in enumerate(waves):
        ref = official.encode_code(torch.from_numpy(w)[None])[0, 0].long().numpy()
        assert len(set(ref.tolist())) > 3, "degenerate reference codes make the test void"
        assert np.array_equal(ours[i], ref), f"utterance {i}: {(ours[i] != ref).sum()} differ"
        wav_ref = official.decode_code(torch.from_numpy(ref)[None, None])[0, 0].numpy()
        got = codec.decode(ref)[0]
        assert got.shape == wav_ref.shape and np.abs(got - wav_ref).max() <= 1e-4
        assert np.abs(wav_ref).max() > 1e-3  # non-trivial audio


def test_unknown_key_is_named(official, tmp_path):
    sd = original_state_dict(official)
    sd["generator.backbone.extra_layer.weight"] = torch.zeros(3)
    with pytest.raises(ModelLoadError, match="generator.backbone.extra_layer.weight"):
        Codec.from_pretrained(_save(sd, tmp_path / "x"))


def test_missing_key_is_named(official, tmp_path):
    sd = original_state_dict(official)
    del sd["generator.head.out.bias"]
    with pytest.raises(ModelLoadError, match="acoustic_decoder.head.linear.bias"):
        Codec.from_pretrained(_save(sd, tmp_path / "x"))


def test_half_of_weight_norm_is_named(official, tmp_path):
    sd = original_state_dict(official)
    key = next(k for k in sd if k.endswith(".weight_g"))
    del sd[key]
    with pytest.raises(ModelLoadError, match=key[: -len(".weight_g")]):
        Codec.from_pretrained(_save(sd, tmp_path / "x"))


def test_beta_mapping_matters(official, waves, tmp_path):
    """A loader that left SnakeBeta's beta at zero (the transformers>=4.49 bug) would differ."""
    sd = original_state_dict(official)
    ref = Codec.from_pretrained(_save(sd, tmp_path / "ok")).encode(waves[1])[0]
    for k in [k for k in sd if k.endswith("act.beta")]:
        sd[k] = torch.zeros_like(sd[k])
    broken = Codec.from_pretrained(_save(sd, tmp_path / "zero")).encode(waves[1])[0]
    assert not np.array_equal(ref, broken)


def test_cli_convert_writes_transformers_format(official, waves, tmp_path):
    from transformers import Xcodec2Model

    from llasa.cli.main import main

    src = _save(original_state_dict(official), tmp_path / "orig")
    assert main(["codec", "convert", str(src), str(tmp_path / "hf")]) == 0
    assert isinstance(Xcodec2Model.from_pretrained(str(tmp_path / "hf")), Xcodec2Model)
    ref = official.encode_code(torch.from_numpy(waves[0])[None])[0, 0].long().numpy()
    assert np.array_equal(Codec.from_pretrained(tmp_path / "hf").encode(waves[0])[0], ref)
    assert main(["codec", "convert", str(src), str(tmp_path / "hf")]) == 2  # not empty
