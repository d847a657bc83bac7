import pytest
import torch

from llasa._common.cpu import cpu_info
from llasa._common.errors import InputError
from llasa._common.packing import PackedLinear, can_pack
from llasa.lm import GenerationSettings, LlasaLM, tiny_lm

pytestmark = pytest.mark.skipif(not can_pack(torch.device("cpu"), torch.float32),
                                reason="oneDNN packing unavailable on this CPU build")


def test_optimized_lm_samples_the_same(tmp_path, monkeypatch):
    # bf16 packing is offered only where the CPU computes bf16 natively (never emulated);
    # oneDNN's packing here (llasa's bf16 kernel, which sums in another order: test_bf16.py)
    monkeypatch.setenv("LLASA_BF16_KERNEL", "0")
    if not can_pack(torch.device("cpu"), torch.bfloat16):
        pytest.skip("bf16 is not native on this CPU (no AVX512-BF16/AMX): nothing to pack")
    lm = tiny_lm(codebook_size=256, seed=4, dtype="bf16")
    ids = lm.build_prompt("Packed weights.")
    s = GenerationSettings(seed=1, max_new_tokens=30)
    plain = lm.generate([ids], s, num_candidates=2)
    lm.optimize()
    assert lm.optimized and any(isinstance(m, PackedLinear) for m in lm.model.modules())
    fast = lm.generate([ids], s, num_candidates=2)
    assert [g.codes.tolist() for g in fast[0]] == [g.codes.tolist() for g in plain[0]]
    lm.save_pretrained(tmp_path / "m")  # saves plain weights, stays optimized
    assert lm.optimized
    back = LlasaLM.from_pretrained(tmp_path / "m", dtype="bf16", device="cpu", optimize=False)
    assert not back.optimized
    assert LlasaLM.from_pretrained(tmp_path / "m", dtype="bf16", optimize=True).optimized
    # inference loading packs by default on CPU ("auto"); a bad value is a clear error
    assert LlasaLM.from_pretrained(tmp_path / "m", dtype="bf16", device="cpu").optimized
    with pytest.raises(InputError, match="optimize"):
        LlasaLM.from_pretrained(tmp_path / "m", optimize="yes")
    assert [g.codes.tolist() for g in back.generate([ids], s, num_candidates=2)[0]] == [
        g.codes.tolist() for g in plain[0]]
    lm.unoptimize()
    assert not any(isinstance(m, PackedLinear) for m in lm.model.modules())
    assert lm.model.model.layers[0].mlp.up_proj.weight.requires_grad


def test_optimized_fp32_greedy_matches():
    lm = tiny_lm(codebook_size=256, seed=5)
    ids = lm.build_prompt("Greedy fp32.")
    s = GenerationSettings(do_sample=False, max_new_tokens=30)
    ref = lm.generate([ids], s)[0][0].codes.tolist()
    assert lm.optimize().generate([ids], s)[0][0].codes.tolist() == ref


def test_bf16_is_not_packed_where_emulated():
    lm = tiny_lm(codebook_size=256, seed=4, dtype="bf16").optimize()
    assert lm.optimized == can_pack(torch.device("cpu"), torch.bfloat16)
    assert lm.optimized == cpu_info().native_bf16
