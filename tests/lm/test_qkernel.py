"""llasa's own 4/8-bit CPU kernel (``lm/csrc/qlinear.cpp``): exact against a float64 reference of
the same integer arithmetic on both instruction sets, packing round trips, the instruction set
picked from the CPU, and the fallback to torch's kernels when it cannot build.

``tests/_common/test_cpu.py`` runs this file again as an AVX2-only CPU.
"""

from __future__ import annotations

import logging

import pytest
import torch

from llasa._common.cpu import cpu_info
from llasa.lm import qkernel
from llasa.lm.quant import Int4Linear, Int8Linear, dequantize, int4_weights, int8_weights

needs_kernel = pytest.mark.skipif(qkernel.kernel() is None, reason="the kernel did not build")
# qmatmul's (vnni, amx) flags this CPU can run: AVX2 always, VNNI and AMX tiles where present
ISAS = [(False, False)] + ([(True, False)] if qkernel.isa() in ("avx512_vnni", "avx512_amx")
                           else []) + ([(True, True)] if qkernel.isa() == "avx512_amx" else [])


def _act(x: torch.Tensor, smooth=None):
    xq, xs, xsum = qkernel.kernel().quantize_act(x, qkernel._EMPTY if smooth is None else smooth)
    m, k = x.shape
    xd = (xq.double().reshape(m, -1, 32) * xs.double()[..., None]).reshape(m, k)
    return (xq, xs, xsum), xd


def test_isa_follows_the_cpu():
    info = cpu_info()
    vnni = info.avx512 and info.vnni and "avx512_vnni" in info.flags
    want = (("avx512_amx" if info.amx_int8 else "avx512_vnni") if vnni else
            "avx2" if {"avx2", "fma"} <= info.flags else None)
    assert qkernel.isa() == want


@needs_kernel
def test_activations_quantize_per_group_of_32():
    torch.manual_seed(0)
    x = torch.randn(3, 96) * torch.linspace(0.1, 10, 96)
    smooth = torch.rand(96) + 0.5
    (xq, xs, xsum), xd = _act(x, smooth)
    xm = x * smooth
    g = xm.reshape(3, 3, 32)
    assert torch.allclose(xs, g.abs().amax(-1) / 127)
    assert torch.allclose(xsum, g.sum(-1), atol=1e-5)
    ref = torch.round(g / xs[..., None]).reshape(3, 96)
    assert (xq.float() - ref).abs().max() <= 1 and xq.abs().max() <= 127
    assert (xd - xm.double()).abs().max() <= xs.max() / 2 + 1e-6


@needs_kernel
@pytest.mark.parametrize("vnni", ISAS)
@pytest.mark.parametrize("m", [1, 5, 13, 21])  # 13, 21: two row chunks (AVX2/VNNI, AMX)
def test_int4_is_exact_against_its_dequantized_weights(vnni, m):
    torch.manual_seed(m)
    n, k = 72, 128  # 72 rows: a partial 16-row block
    w = torch.randn(n, k) * 0.02
    q, sz = int4_weights(w)
    packed = qkernel.pack_int4(q, sz)
    assert torch.equal(qkernel.unpack_codes(packed, n, k), q)
    wd = qkernel.dequantize_packed(packed, n, k)
    assert (wd - w).abs().max() <= sz[..., 0].max() / 2 + 1e-3  # fp16 scales and mins
    act, xd = _act(torch.randn(m, k))
    y = qkernel.kernel().qmatmul(*act, packed, qkernel._EMPTY, n, 4, *vnni)
    # w = q * scale + min; the min term meets the exact float sum of each group of x
    sm = packed[..., 256:].contiguous().view(torch.float16).double()  # [blocks, groups, 32]
    mins = sm[..., 16:].transpose(1, 2).reshape(-1, k // 32)[:n]
    ref = xd @ (wd.double() - mins.repeat_interleave(32, 1)).t() + act[2].double() @ mins.t()
    assert y.shape == (m, n)
    assert (y.double() - ref).abs().max() <= 1e-5 * ref.abs().max()


@needs_kernel
@pytest.mark.parametrize("vnni", ISAS)
@pytest.mark.parametrize("m", [1, 5, 13, 21])
def test_int8_is_exact_against_its_dequantized_weights(vnni, m):
    torch.manual_seed(m)
    n, k = 40, 160
    q, scale = int8_weights(torch.randn(n, k))
    packed = qkernel.pack_int8(q)
    assert torch.equal(qkernel.unpack_int8(packed, n, k), q)
    smooth = torch.rand(k) + 0.5
    act, xd = _act(torch.randn(m, k), smooth)
    y = qkernel.kernel().qmatmul(*act, packed, scale, n, 8, *vnni)
    ref = xd @ (q.double() * scale.double()[:, None]).t()
    assert (y.double() - ref).abs().max() <= 1e-5 * ref.abs().max()


@needs_kernel
@pytest.mark.parametrize("bits", [4, 8])
def test_amx_tiles_equal_vnni_bit_for_bit(bits):
    if qkernel.isa() != "avx512_amx":
        pytest.skip("no AMX int8 tiles on this CPU")
    torch.manual_seed(bits)
    n, k = 200, 256
    w = torch.randn(n, k) * 0.02
    if bits == 4:
        packed, scale = qkernel.pack_int4(*int4_weights(w)), qkernel._EMPTY
    else:
        q, scale = int8_weights(w)
        packed = qkernel.pack_int8(q)
    for m in (2, 8, 16, 17, 40):
        act, _ = _act(torch.randn(m, k))
        tiles = qkernel.kernel().qmatmul(*act, packed, scale, n, bits, True, True)
        dots = qkernel.kernel().qmatmul(*act, packed, scale, n, bits, True, False)
        assert torch.equal(tiles, dots), m


@needs_kernel
@pytest.mark.parametrize("cls", [Int4Linear, Int8Linear])
def test_layers_run_on_the_kernel_and_a_batch_row_equals_a_single_row(cls):
    torch.manual_seed(0)
    lin = torch.nn.Linear(128, 72, bias=True)
    layer = cls.from_linear(lin)
    assert layer._qk is not None
    x = torch.randn(8, 128)
    batch = layer(x)
    # rows are computed independently, in the same order: best-of-N rows = single runs (on
    # AMX machines the batch runs on tiles and the single row on VNNI: still the same bits)
    assert torch.equal(batch[3:4], layer(x[3:4]))
    ref = torch.nn.functional.linear(x, dequantize(layer), lin.bias)
    assert (batch - ref).abs().max() < 0.03 * ref.abs().max()
    assert layer(x.bfloat16()).dtype == torch.bfloat16


def test_falls_back_to_torch_kernels_when_the_build_fails(monkeypatch, caplog):
    import torch.utils.cpp_extension as ext

    def broken(*a, **k):
        raise RuntimeError("Error building extension 'llasa_qlinear': no compiler")

    monkeypatch.setattr(ext, "load", broken)
    qkernel.kernel.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="llasa.lm.qkernel"):
            assert qkernel.kernel() is None or qkernel.isa() is None
        if qkernel.isa() is not None:
            assert "did not build" in caplog.text
        torch.manual_seed(0)
        lin = torch.nn.Linear(128, 48)
        for cls in (Int4Linear, Int8Linear):
            layer = cls.from_linear(lin)
            assert layer._qk is None
            x = torch.randn(2, 128)
            ref = torch.nn.functional.linear(x, dequantize(layer), lin.bias)
            assert (layer(x) - ref).abs().max() < 0.05 * ref.abs().max()
    finally:
        monkeypatch.undo()
        qkernel.kernel.cache_clear()


def test_switched_off_by_env(monkeypatch):
    monkeypatch.setenv("LLASA_QKERNEL", "0")
    qkernel.kernel.cache_clear()
    try:
        assert qkernel.kernel() is None
        assert Int4Linear.from_linear(torch.nn.Linear(64, 16))._qk is None
    finally:
        monkeypatch.delenv("LLASA_QKERNEL")
        qkernel.kernel.cache_clear()


@needs_kernel
@pytest.mark.parametrize("vnni", sorted({v for v, _ in ISAS}))
def test_dot_peak_is_a_rate_a_cpu_can_reach(vnni):
    # the compute ceiling bench/quant_kernels.py reports: a loop the compiler folded away (it
    # did, until the chains' results were kept) shows as thousands of GMAC/s
    n = torch.get_num_threads()
    rate = qkernel.kernel().dot_peak(200_000, vnni)
    most = n * (128 if vnni else 64) * 6e9  # two 512-bit VNNI (256-bit maddubs) a cycle, 6 GHz
    assert 1e9 < rate < most, rate
