"""`llasa info` names the CPU and what llasa picks from it; `llasa quantize` writes an LM that
`llasa tts` loads quantized."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import soundfile as sf

from llasa._common.cpu import cpu_info
from llasa.cli.main import main

AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "llasa.cli", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=300)


def test_info_text_and_json(capsys):
    assert main(["info"]) == 0
    text = capsys.readouterr().out
    info = cpu_info()
    assert info.model in text and f"torch ISA {info.isa}" in text and "--dtype auto" in text
    assert main(["info", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["cpu"]["isa"] == info.isa and d["cpu"]["native_bf16"] == info.native_bf16
    assert d["choices"]["quant_int8"] and d["choices"]["quant_int4"]
    from llasa.lm import qkernel

    assert d["choices"]["quant_kernel"] == {"isa": qkernel.isa(), "status": qkernel.status()}
    from llasa.lm import bf16

    assert d["choices"]["lm_bf16_kernel"] == bf16.preferred()
    assert ("vdpbf16ps kernel" in text) == bf16.preferred()
    assert f"llasa's kernel ({qkernel.isa()}): {qkernel.status()}" in text


def test_info_as_an_avx2_cpu_picks_fp32_and_mkl():
    out = _cli("info", "--json", env=AVX2)
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["cpu"]["isa"] == "AVX2" and not d["cpu"]["native_bf16"]
    assert d["choices"]["dtype_auto_cpu"] == "float32"
    assert not d["choices"]["lm_packed_bf16"] and not d["choices"]["codec_packed_fp32"]
    assert not d["choices"]["lm_bf16_kernel"]


def test_quantize_then_tts(tmp_path, capsys):
    q = tmp_path / "int8"
    assert main(["quantize", "--method", "int8", "-o", str(q)]) == 0
    assert "int8" in capsys.readouterr().out
    assert json.loads((q / "config.json").read_text())["llasa_quant"] == {"method": "int8"}
    wav = tmp_path / "q.wav"
    assert main(["tts", "Please wait here.", "-o", str(wav), "--lm", str(q), "--seed", "0"]) == 0
    audio, sr = sf.read(wav)
    assert sr == 16000 and len(audio) > 0.3 * sr and np.abs(audio).max() > 0.01
    # a non-empty output directory is refused on one line, nothing overwritten
    out = _cli("quantize", "--method", "int4", "-o", str(q))
    assert out.returncode == 2 and "not an empty directory" in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert json.loads((q / "config.json").read_text())["llasa_quant"] == {"method": "int8"}
