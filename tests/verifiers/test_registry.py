"""Verifier specs, the per-instance registry, and lazy imports."""

import subprocess
import sys

import pytest

from llasa._common.errors import InputError
from llasa.verifiers import (ASRVerifier, CombinedVerifier, DistillMOSVerifier, DNSMOSVerifier,
                             SpeakerSimilarity, VerifierRegistry, WavLMSimilarity, build_verifier,
                             parse_weighted)


@pytest.mark.parametrize("spec,cls,name,higher", [
    ("sim", SpeakerSimilarity, "sim", True), ("wer", ASRVerifier, "wer", False),
    ("cer", ASRVerifier, "cer", False), ("mos", DNSMOSVerifier, "mos", True),
    ("mos-bak", DNSMOSVerifier, "mos-bak", True), ("distillmos", DistillMOSVerifier, "distillmos", True),
    ("hf-asr:openai/whisper-large-v3", ASRVerifier, "hf-asr:openai/whisper-large-v3", False),
    ("wavlm-sim:microsoft/wavlm-base-plus-sv", WavLMSimilarity,
     "wavlm-sim:microsoft/wavlm-base-plus-sv", True),
    (" 0.7*wer + 0.3*sim ", CombinedVerifier, "0.7*wer+0.3*sim", True),
])
def test_specs(spec, cls, name, higher):
    v = build_verifier(spec)
    assert isinstance(v, cls) and v.name == name and v.higher_is_better is higher
    assert not v.loaded


def test_wer_is_cer_for_chinese_cer_always():
    assert build_verifier("wer").metric == "auto" and build_verifier("cer").metric == "cer"


def test_parse_weighted():
    assert parse_weighted("2*wer+sim") == [("wer", 2.0), ("sim", 1.0)]
    assert parse_weighted("0.5 * mos") == [("mos", 0.5)]


@pytest.mark.parametrize("spec,match", [
    ("nope", "unknown verifier"), ("", "non-empty"), ("hf-asr:", "after the colon"),
    ("0*wer+sim", "> 0"), ("wer+wer", "unique"), ("wer+", "cannot read"),
])
def test_bad_specs(spec, match):
    with pytest.raises(InputError, match=match):
        build_verifier(spec)


def test_bad_option_is_input_error():
    with pytest.raises(InputError, match="bad option"):
        build_verifier("sim", colour="red")


def test_unreachable_hub_model_is_clear(clips):
    from llasa._common.errors import ModelLoadError
    from llasa.verifiers import VerifyRequest

    v = build_verifier("wavlm-sim:someone/not-downloaded")
    with pytest.raises(ModelLoadError, match="someone/not-downloaded"):
        v.score([clips["a"]], VerifyRequest(reference_audio=clips["ref"]))


def test_registry_caches_and_shares_the_transcriber():
    reg = VerifierRegistry()
    wer, cer = reg.get("wer"), reg.get("cer")
    assert reg.get("wer") is wer and wer.transcriber is cer.transcriber is reg.transcriber
    combo = reg.get("0.5*wer+0.5*sim")
    assert combo.parts[0][0] is wer and combo.parts[1][0] is reg.get("sim")
    assert not reg.transcriber.loaded


def test_import_loads_no_model_libraries():
    code = ("import sys, llasa.verifiers; bad = [m for m in ('torch', 'faster_whisper', "
            "'resemblyzer', 'onnxruntime', 'transformers') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
