"""Codec: encode/decode contracts, batching, loading, decode_only, errors (tiny model)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from llasa._common.errors import InputError, ModelLoadError
from llasa.codec import Codec


@pytest.fixture(scope="module")
def waves(speech):
    a = speech("Hello world.")
    b = speech("Batching must not change a single code.", voice="en-gb", speed=170)
    c = np.ascontiguousarray(b[: 320 * 40])  # an exact multiple of 320: one extra token
    return [a, b, c]


def test_encode_lengths_follow_official_padding(tiny_codec, waves):
    codes = tiny_codec.encode(waves)
    for w, c in zip(waves, codes):
        assert c.dtype == np.int64 and c.shape == (len(w) // 320 + 1,)
        assert c.min() >= 0 and c.max() < tiny_codec.codebook_size == 65536
    assert len(codes[2]) == 41
    assert len(set(codes[1].tolist())) > 5  # not a degenerate constant code


def test_batched_encode_equals_one_by_one(tiny_codec, waves):
    batched = tiny_codec.encode(waves + [waves[0]], batch_size=4)
    for i, w in enumerate(waves + [waves[0]]):
        single = tiny_codec.encode(w)[0]
        assert np.array_equal(batched[i], single), f"item {i} differs when batched"


def test_encode_matches_transformers_model(tiny_codec, waves):
    """Our batched path equals transformers' own Xcodec2Model.encode on one input."""
    from llasa.codec.features import pad_waveform, semantic_features

    padded = pad_waveform(waves[0])
    feats, mask = semantic_features([padded])
    with torch.no_grad():
        ref = tiny_codec.net.encode(torch.from_numpy(padded)[None, None], feats,
                                    input_features_mask=mask).audio_codes[0, 0]
    assert np.array_equal(tiny_codec.encode(waves[0])[0], ref.numpy())


def test_decode_lengths_and_batching(tiny_codec):
    rng = np.random.default_rng(0)
    codes = [rng.integers(0, 65536, n) for n in (7, 30, 30, 1)]
    wavs = tiny_codec.decode(codes)
    assert [len(w) for w in wavs] == [320 * len(c) for c in codes]
    assert all(w.dtype == np.float32 and np.isfinite(w).all() for w in wavs)
    for c, w in zip(codes, wavs):
        # same-length items share a batch: equal up to GEMM rounding
        np.testing.assert_allclose(tiny_codec.decode(c)[0], w, atol=1e-5)
    with torch.no_grad():
        ref = tiny_codec.net.decode(torch.from_numpy(codes[1])[None, None]).audio_values[0, 0]
    np.testing.assert_allclose(wavs[1], ref.numpy(), atol=1e-6)
    assert np.abs(wavs[1]).max() > 1e-3


def test_save_load_and_decode_only(tiny_codec, tiny_dir, waves):
    codes = tiny_codec.encode(waves[0])[0]
    loaded = Codec.from_pretrained(tiny_dir)
    assert np.array_equal(loaded.encode(waves[0])[0], codes)
    dec = Codec.from_pretrained(tiny_dir, decode_only=True)
    assert dec.decode_only and not hasattr(dec.net, "semantic_encoder")
    assert not hasattr(dec.net, "acoustic_encoder")
    n_full = sum(p.numel() for p in loaded.net.parameters())
    n_dec = sum(p.numel() for p in dec.net.parameters())
    assert n_dec < n_full
    assert np.array_equal(dec.decode(codes)[0], tiny_codec.decode(codes)[0])
    with pytest.raises(InputError, match="decode_only"):
        dec.encode(waves[0])
    with pytest.raises(InputError, match="decode_only"):
        dec.save_pretrained(tiny_dir.parent / "nope")
    # transformers itself reads what we save
    from transformers import Xcodec2Model

    assert isinstance(Xcodec2Model.from_pretrained(str(tiny_dir)), Xcodec2Model)


def test_bf16_decode_close_to_fp32(tiny_dir):
    codes = np.random.default_rng(1).integers(0, 65536, 50)
    ref = Codec.from_pretrained(tiny_dir, decode_only=True).decode(codes)[0]
    got = Codec.from_pretrained(tiny_dir, decode_only=True, dtype="bf16").decode(codes)[0]
    assert got.dtype == np.float32
    snr = 10 * np.log10(np.sum(ref**2) / np.sum((got - ref) ** 2))
    assert snr > 15, snr


@pytest.mark.parametrize("bad, match", [
    (np.zeros(0, np.float32), "empty"),
    (np.full(1600, np.nan, np.float32), "NaN"),
    (np.zeros((2, 1600), np.float32), "1-D numpy"),
    ([np.zeros((2, 1600), np.float32)], "mono"),
    ([], "empty list"),
    (torch.zeros(1600), "torch tensor"),
    ("speech.wav", "1-D numpy"),
])
def test_encode_rejects_bad_input(tiny_codec, bad, match):
    with pytest.raises(InputError, match=match):
        tiny_codec.encode(bad)


@pytest.mark.parametrize("bad, match", [
    (np.array([1, 65536]), r"\[0, 65536\)"),
    (np.array([-1, 3]), r"\[0, 65536\)"),
    (np.array([0.5, 1.0]), "integers"),
    (np.zeros(0, np.int64), "empty"),
    (np.zeros((2, 3), np.int64), "1-D"),
])
def test_decode_rejects_bad_codes(tiny_codec, bad, match):
    with pytest.raises(InputError, match=match):
        tiny_codec.decode(bad)


def test_load_errors(tmp_path, tiny_dir):
    with pytest.raises(ModelLoadError, match="does not exist"):
        Codec.from_pretrained(tmp_path / "missing")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (bad / "model.safetensors").write_bytes((tiny_dir / "model.safetensors").read_bytes())
    with pytest.raises(ModelLoadError, match="llama"):
        Codec.from_pretrained(bad)


def test_missing_and_unexpected_keys_are_named(tmp_path, tiny_dir):
    from safetensors.torch import load_file, save_file

    sd = load_file(str(tiny_dir / "model.safetensors"))
    del sd["acoustic_decoder.norm.weight"]
    sd["acoustic_decoder.bogus"] = torch.zeros(1)
    d = tmp_path / "partial"
    d.mkdir()
    (d / "config.json").write_text((tiny_dir / "config.json").read_text())
    save_file(sd, str(d / "model.safetensors"))
    with pytest.raises(ModelLoadError, match="acoustic_decoder.norm.weight.*acoustic_decoder.bogus"):
        Codec.from_pretrained(d)


def test_optimize_packs_decoder_at_first_decode_with_same_output(tiny_dir, tmp_path):
    from llasa._common.packing import PackedLinear, can_pack, should_pack

    if not can_pack(torch.device("cpu"), torch.float32):
        pytest.skip("oneDNN packing unavailable on this CPU build")

    from llasa.codec.fused import FusedDecoderLayer

    def packed(c):
        return sum(isinstance(m, (PackedLinear, FusedDecoderLayer)) for m in c.net.modules())

    codes = [np.random.default_rng(2).integers(0, 65536, n) for n in (40, 3)]
    plain = Codec.from_pretrained(tiny_dir, decode_only=True, optimize=False)
    ref = plain.decode(codes)
    assert not plain.optimized and packed(plain) == 0
    auto = Codec.from_pretrained(tiny_dir, decode_only=True)
    # "auto" leaves a fresh codec's net plain (training takes codec.net) until a decode
    assert not auto.optimized and packed(auto) == 0
    got = auto.decode(codes)
    n_layers = auto.config.num_hidden_layers
    # fused blocks; fc and head packed only where oneDNN pays on this CPU (AVX-512)
    extra = 2 if should_pack(torch.device("cpu"), torch.float32, "long") else 0
    assert auto.optimized and packed(auto) == n_layers + extra
    for r, g in zip(ref, got):
        np.testing.assert_allclose(g, r, atol=1e-5)
        assert np.abs(r).max() > 1e-3
    # streaming decode goes through the same packed decoder
    stream = np.concatenate(list(auto.decode_stream([codes[0][:20], codes[0][20:]])))
    assert len(stream) == len(ref[0])
    # saving writes plain weights and keeps the codec packed; the copy decodes the same
    full = Codec.from_pretrained(tiny_dir, optimize=True)
    assert full.optimized
    full.save_pretrained(tmp_path / "c")
    assert full.optimized
    again = Codec.from_pretrained(tmp_path / "c", decode_only=True, optimize=False)
    np.testing.assert_allclose(again.decode(codes[0])[0], ref[0], atol=1e-6)
    full.unoptimize()
    assert packed(full) == 0 and all(p.requires_grad for p in full.net.acoustic_decoder.parameters())
    with pytest.raises(InputError, match="optimize"):
        Codec.from_pretrained(tiny_dir, optimize="fast")


def test_concurrent_first_decodes_pack_once_and_agree(tiny_dir):
    from concurrent.futures import ThreadPoolExecutor

    from llasa.codec import fused

    codes = [np.random.default_rng(3).integers(0, 65536, 30)]
    ref = Codec.from_pretrained(tiny_dir, decode_only=True, optimize=False).decode(codes)[0]
    auto = Codec.from_pretrained(tiny_dir, decode_only=True)
    calls = []
    original = fused.fuse_decoder

    def counting(*a, **k):
        calls.append(1)
        return original(*a, **k)

    import llasa.codec.model as model_mod

    model_mod.fuse_decoder, saved = counting, model_mod.fuse_decoder
    try:
        with ThreadPoolExecutor(4) as pool:
            outs = list(pool.map(lambda _: auto.decode(codes)[0], range(4)))
    finally:
        model_mod.fuse_decoder = saved
    assert len(calls) == (1 if auto.optimized else 0)
    for o in outs:
        np.testing.assert_allclose(o, ref, atol=1e-5)
