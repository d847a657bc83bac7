import pytest
import torch

from llasa.lm import GenerationSettings, LlasaLM, tiny_lm
from llasa.lm.packing import PackedLinear, can_pack, pack_linears, unpack_linears

pytestmark = pytest.mark.skipif(not can_pack(torch.device("cpu"), torch.float32),
                                reason="oneDNN packing unavailable on this CPU build")


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.bfloat16, 0.0)])
def test_packed_linear_matches_linear_and_unpacks(dtype, tol):
    if not can_pack(torch.device("cpu"), dtype):
        pytest.skip("no bf16 oneDNN on this CPU")
    torch.manual_seed(0)
    lin = torch.nn.Linear(96, 200, bias=True).to(dtype)
    p = PackedLinear(lin)
    for shape in [(1, 96), (3, 1, 96), (7, 96)]:
        x = torch.randn(*shape, dtype=dtype)
        torch.testing.assert_close(p(x).float(), lin(x).float(), atol=tol, rtol=tol)
    back = p.unpack()
    assert torch.equal(back.weight, lin.weight) and torch.equal(back.bias, lin.bias)
    seq = torch.nn.Sequential(lin, torch.nn.ReLU(), torch.nn.Linear(200, 4).to(dtype))
    assert pack_linears(seq) == 2 and isinstance(seq[0], PackedLinear)
    assert unpack_linears(seq) == 2 and type(seq[0]) is torch.nn.Linear


def test_optimized_lm_samples_the_same(tmp_path):
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
    back = LlasaLM.from_pretrained(tmp_path / "m", dtype="bf16", device="cpu")
    assert not back.optimized
    assert LlasaLM.from_pretrained(tmp_path / "m", dtype="bf16", optimize=True).optimized
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
