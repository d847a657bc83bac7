"""8-bit and 4-bit LM weights: the same decoding loop, prompts and speech-only head, close to the
float model, reproducible per seed, stored as integers and loaded back the same."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from llasa._common.errors import InputError, ModelLoadError
from llasa.lm import GenerationSettings, LlasaLM, tiny_lm
from llasa.lm.quant import (Int4Linear, Int8Linear, dequantize, int4_weights, int8_weights,
                            quantized_linear_error)

METHODS = ["int8", "int4"]


@pytest.mark.parametrize("method, tol", [("int8", 0.01), ("int4", 0.12)])
def test_quantized_linear_computes_with_its_dequantized_weights(method, tol):
    torch.manual_seed(0)
    lin = torch.nn.Linear(128, 72, bias=True)  # 72 rows: int4 pads to the kernel's 16
    q = (Int8Linear if method == "int8" else Int4Linear).from_linear(lin)
    x = torch.randn(3, 5, 128)
    ref = torch.nn.functional.linear(x, dequantize(q), lin.bias)
    got = q(x)
    assert got.shape == (3, 5, 72)
    # activations are quantized (int8) or rounded to bf16 (int4) on the way in
    assert (got - ref).abs().max() < 0.05 * ref.abs().max()
    assert quantized_linear_error(lin, method) < tol
    if method == "int8":  # 7-bit activations exactly where the CPU lacks VNNI
        from llasa._common.cpu import cpu_info

        assert q._reduce == (not cpu_info().vnni)
    assert (lin(x) - got).abs().max() < 3 * tol * lin(x).abs().max()


def test_weight_codes_round_trip():
    w = torch.randn(16, 64)
    q8, s8 = int8_weights(w)
    assert q8.dtype == torch.int8
    assert (q8.float() * s8[:, None] - w).abs().max() <= s8.max() / 2 + 1e-6
    q4, sz = int4_weights(w)
    assert q4.dtype == torch.uint8 and int(q4.max()) <= 15 and sz.shape == (2, 16, 2)


@pytest.mark.parametrize("method", METHODS)
def test_quantized_lm_matches_float_greedy_and_is_reproducible(method, tmp_path):
    ref_lm = tiny_lm(codebook_size=256, seed=4)
    ids = ref_lm.build_prompt("Quantized weights.")
    greedy = GenerationSettings(do_sample=False, max_new_tokens=40)
    ref = ref_lm.generate([ids], greedy)[0][0].codes
    lm = tiny_lm(codebook_size=256, seed=4).quantize(method)
    assert lm.quant == method and not lm.optimize().optimized  # no packing over quantized layers
    assert sum(isinstance(m, (Int8Linear, Int4Linear)) for m in lm.model.modules()) == 7 * len(
        lm.model.model.layers)
    assert lm.head_rows().quantized is not None  # the speech-only head, quantized too
    out = lm.generate([ids], greedy)[0][0].codes
    n = min(len(out), len(ref))
    assert n > 10 and (out[:n] == ref[:n]).mean() > 0.8
    # sampling: speech codes only, same seed → same candidates, batch of 3 like best-of-N
    s = GenerationSettings(seed=3, max_new_tokens=30)
    a = lm.generate([ids], s, num_candidates=3)[0]
    b = lm.generate([ids], s, num_candidates=3)[0]
    assert [g.codes.tolist() for g in a] == [g.codes.tolist() for g in b]
    assert all(((g.codes >= 0) & (g.codes < 256)).all() for g in a)
    # stored as integers; loads quantized without being asked, decodes the same
    lm.save_pretrained(tmp_path / "q")
    cfg = json.loads((tmp_path / "q" / "config.json").read_text())
    assert cfg["llasa_quant"]["method"] == method
    back = LlasaLM.from_pretrained(tmp_path / "q")
    assert back.quant == method
    assert [g.codes.tolist() for g in back.generate([ids], s, num_candidates=3)[0]] == [
        g.codes.tolist() for g in a]
    assert np.array_equal(back.generate([ids], greedy)[0][0].codes, out)


def test_quant_errors(tmp_path):
    with pytest.raises(InputError, match="quant must be"):
        tiny_lm(codebook_size=256).quantize("q3")
    lm = tiny_lm(codebook_size=256).quantize("int8")
    with pytest.raises(InputError, match="already int8"):
        lm.quantize("int4")
    lm.save_pretrained(tmp_path / "q")
    with pytest.raises(InputError, match="stored as int8"):
        LlasaLM.from_pretrained(tmp_path / "q", quant="int4")
    cfg = json.loads((tmp_path / "q" / "config.json").read_text())
    cfg["llasa_quant"] = {"method": "int2"}
    (tmp_path / "q" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match="llasa_quant"):
        LlasaLM.from_pretrained(tmp_path / "q")


def test_int8_smoothing_tames_an_outlier_channel(tmp_path):
    from llasa.lm.quant import input_absmax, smooth_scales

    torch.manual_seed(0)
    lin = torch.nn.Linear(64, 32, bias=False)
    x = torch.randn(16, 64)
    x[:, 3] *= 60  # one channel carries most of the activations' range
    ref = lin(x).detach()
    with input_absmax(torch.nn.Sequential(lin)) as cal:
        lin(x)
    assert torch.allclose(cal.stats["0"], x.abs().amax(0))
    plain = Int8Linear.from_linear(lin)
    smooth = Int8Linear.from_linear(lin, cal.stats["0"])
    err = lambda q: float((q(x).detach() - ref).abs().mean())  # noqa: E731
    assert err(smooth) < 0.5 * err(plain)
    s = smooth_scales(lin.weight, cal.stats["0"])
    assert torch.allclose(dequantize(smooth), dequantize(Int8Linear(*int8_weights(
        lin.weight * s), None, 1 / s)))
    # an int8 LM is calibrated at quantization; its smoothing is stored and loaded back
    lm = tiny_lm(codebook_size=256, seed=4).quantize("int8")
    layers = [m for m in lm.model.modules() if isinstance(m, Int8Linear)]
    assert layers and all(m.inv_smooth is not None for m in layers)
    assert lm.head_rows().quantized.inv_smooth is not None
    lm.save_pretrained(tmp_path / "q")
    back = LlasaLM.from_pretrained(tmp_path / "q")
    assert torch.equal(back.head_rows().quantized.inv_smooth, lm.head_rows().quantized.inv_smooth)
