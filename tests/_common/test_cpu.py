"""CPU feature detection and the choices made from it, here and as an AVX2-only CPU makes them.

An AVX-512 machine behaves as an AVX2 one under torch's and oneDNN's own switches
(``ATEN_CPU_CAPABILITY=avx2``, ``ONEDNN_MAX_CPU_ISA=AVX2``; ``MKL_ENABLE_INSTRUCTIONS=AVX2`` for
MKL), so the AVX2 choices and the tests that depend on them run on every machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from llasa._common.cpu import FLAGS, cpu_info, native_dtype, pack_pays
from llasa._common.packing import can_pack, should_pack

ROOT = Path(__file__).resolve().parents[2]
AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2"}


def _run(code: str, env: dict) -> str:
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_cpu_info_reads_this_machine():
    info = cpu_info()
    assert info.model and info.cores >= 1 and set(info.flags) <= set(FLAGS)
    assert info.isa == torch.backends.cpu.get_cpu_capability()
    assert info.model in info.summary() and info.isa in info.summary()
    assert cpu_info(with_torch=False).isa is None
    # native bf16 needs the hardware and torch dispatching to it
    assert info.native_bf16 == (info.avx512 and bool({"avx512_bf16", "amx_bf16"} & info.flags))
    # VNNI counts where oneDNN may use it: ONEDNN_MAX_CPU_ISA=AVX2 and below rule it out
    capped = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper() in ("SSE41", "AVX", "AVX2")
    assert info.vnni == (not capped and bool(("avx512_vnni" in info.flags and info.avx512)
                                             or "avx_vnni" in info.flags))


def test_choices_follow_the_cpu():
    info = cpu_info()
    assert native_dtype() == (torch.bfloat16 if info.native_bf16 else torch.float32)
    assert native_dtype("meta") == torch.float32
    assert not pack_pays(torch.float16)
    assert pack_pays(torch.bfloat16) == info.native_bf16
    assert pack_pays(torch.float32, "long") == info.avx512
    assert should_pack("cpu", torch.bfloat16) == (can_pack("cpu", torch.bfloat16)
                                                  and info.native_bf16)


_PROBE = """
import json, logging, torch
from llasa._common.cpu import cpu_info, native_dtype, pack_pays
from llasa._common.packing import should_pack
from llasa.codec import presets
from llasa.codec.model import Codec
seen = []
logging.getLogger('llasa').addHandler(type('H', (logging.Handler,), {
    'emit': lambda self, r: seen.append(r.getMessage())})())
Codec.from_config(presets.tiny(), dtype='bf16', decode_only=True)
i = cpu_info()
print(json.dumps(dict(isa=i.isa, native_bf16=i.native_bf16, dtype=str(native_dtype()),
    pack_bf16=should_pack('cpu', torch.bfloat16), pack_codec=pack_pays(torch.float32, 'long'),
    pack_lm=should_pack('cpu', torch.float32, 'decode'), vnni=i.vnni,
    warned=any('emulated' in m for m in seen))))
"""


def test_an_avx2_cpu_never_gets_emulated_bf16():
    got = json.loads(_run(_PROBE, AVX2))
    assert got == {"isa": "AVX2", "native_bf16": False, "dtype": "torch.float32",
                   "pack_bf16": False, "pack_codec": False, "pack_lm": True, "vnni": False,
                   "warned": True}  # asking for bf16 there says it is emulated


def test_kernel_tests_pass_as_an_avx2_cpu():
    """The tests whose paths depend on the CPU pass when this machine acts as an AVX2 one."""
    files = ["tests/lm/test_optimize.py", "tests/codec/test_fused.py",
             "tests/_common/test_packing.py", "tests/lm/test_quant.py", "tests/lm/test_qkernel.py",
             "tests/lm/test_qfuse.py",
             "tests/codec/test_model.py::test_optimize_packs_decoder_at_first_decode_with_same_output",
             "tests/_common/test_cpu.py::test_cpu_info_reads_this_machine",
             "tests/_common/test_cpu.py::test_choices_follow_the_cpu"]
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
                         env={**os.environ, **AVX2}, cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert " passed" in out.stdout


def test_bf16_warns_only_where_emulated(caplog):
    from llasa.codec import presets
    from llasa.codec.model import Codec

    with caplog.at_level("WARNING", logger="llasa"):
        Codec.from_config(presets.tiny(), dtype="bf16", decode_only=True)
        Codec.from_config(presets.tiny(), dtype="fp32", decode_only=True)
    warned = [r for r in caplog.records if "emulated" in r.getMessage()]
    assert len(warned) == (0 if cpu_info().native_bf16 else 1)
