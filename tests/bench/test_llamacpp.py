"""bench/llamacpp.py: build llama.cpp (cached, ~6 min the first time), write, quantise, bench."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

_PATH = Path(__file__).resolve().parents[2] / "bench" / "llamacpp.py"


@pytest.fixture(scope="module")
def llamacpp():
    if shutil.which("cmake") is None or shutil.which("c++") is None:
        pytest.skip("cmake or a C++ compiler is missing")
    spec = importlib.util.spec_from_file_location("bench_llamacpp", _PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.ensure_llamacpp()  # cached in ~/.cache/llasa (or $LLASA_LLAMACPP_DIR)
    return mod


def test_tiny_gguf_quantise_and_bench(llamacpp, tmp_path):
    h, layers, heads, kv, ffn = llamacpp.PRESETS["tiny"]
    f16 = tmp_path / "tiny-f16.gguf"
    size = llamacpp.write_gguf(f16, "tiny", seed=0)
    gguf = llamacpp.import_gguf()
    r = gguf.GGUFReader(str(f16))
    names = {t.name: t for t in r.tensors}
    assert len(names) == 2 + 9 * layers
    assert "output.weight" not in names  # tied: llama.cpp reads the head from token_embd
    assert list(names["token_embd.weight"].shape) == [h, llamacpp.VOCAB]
    assert names["blk.0.attn_k.weight"].shape.tolist() == [h, kv * h // heads]
    assert size > llamacpp.VOCAB * h * 2

    q4 = tmp_path / "tiny-q4_k_m.gguf"
    assert 0 < llamacpp.quantize(f16, q4, "Q4_K_M") < size
    for path in (f16, q4):
        assert llamacpp.bench(path, threads=2, n=8, reps=1) > 0
        assert llamacpp.bench_prompt(path, 16, threads=2, reps=1) > 0  # the prefill rows
