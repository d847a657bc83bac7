import pytest
import torch

from llasa._common.packing import PackedLinear, can_pack, pack_linears, unpack_linears

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


@pytest.mark.parametrize("hint", [1, 8])
def test_any_batch_works_with_any_layout_hint(hint):
    from llasa._common.packing import decode_batch_hint

    assert decode_batch_hint(torch.float32) == 8 and decode_batch_hint(torch.bfloat16) == 1
    torch.manual_seed(1)
    lin = torch.nn.Linear(64, 48, bias=False)
    p = PackedLinear(lin, batch_hint=hint)
    for rows in (1, 3, 8, 13):
        x = torch.randn(rows, 64)
        torch.testing.assert_close(p(x), lin(x), atol=1e-5, rtol=1e-5)
