"""MOS verifiers (DNSMOS via speechmos, DistillMOS) on real espeak speech."""

import numpy as np
import pytest

from llasa._common.errors import InputError
from llasa.verifiers import DistillMOSVerifier, DNSMOSVerifier, VerifyRequest

from .conftest import add_noise


@pytest.fixture(scope="module")
def distillmos():
    return DistillMOSVerifier()


@pytest.fixture(scope="module")
def mos_clips(clips):
    """Clips sized to keep DNSMOS cheap: it tiles a clip to >= 9.01 s and rates 9.01 s windows
    1 s apart, so 2.5 s (tiled to 10 s) is one window and 11.5 s is two."""
    a, ref = clips["a"], clips["ref"]
    return {"short": a[:40000], "long": np.concatenate([a, ref, a])[:184000]}


def test_noise_lowers_dnsmos(dnsmos, mos_clips):
    a = mos_clips["short"]
    clean, snr20, snr5 = dnsmos.score([a, add_noise(a, 20), add_noise(a, 5)], VerifyRequest())
    assert clean > snr20 > snr5 and clean - snr5 > 0.5
    assert 1.0 <= snr5 and clean <= 5.0


def test_noise_lowers_distillmos(distillmos, clips):
    # DistillMOS finds clean espeak speech (robotic, out of its training domain) worse than
    # lightly noised espeak, so the check is on growing noise: more noise, lower MOS.
    a = clips["a"]
    snr20, snr5, snr0 = distillmos.score([add_noise(a, 20), add_noise(a, 5), add_noise(a, 0)],
                                         VerifyRequest())
    assert snr20 > snr5 > snr0 and snr20 - snr0 > 0.3
    assert 1.0 <= snr0 and snr20 <= 5.0


@pytest.mark.parametrize("which", ["dnsmos", "distillmos"])
def test_batched_equals_one_by_one(which, dnsmos, distillmos, mos_clips):
    v = dnsmos if which == "dnsmos" else distillmos
    batch = [mos_clips["short"], mos_clips["long"], np.zeros(0, np.float32)]
    together = v.score(batch, VerifyRequest())
    alone = np.array([v.score([w], VerifyRequest())[0] for w in batch])
    np.testing.assert_allclose(together, alone, atol=1e-4)
    assert together[2] == 1.0  # too short to rate: bottom of the scale


def test_dnsmos_matches_speechmos(dnsmos, mos_clips):
    from speechmos.dnsmos import DNSMOS

    ref = dnsmos.backend()
    assert isinstance(ref, DNSMOS)
    for wav in (mos_clips["short"], mos_clips["long"]):
        assert len(dnsmos._windows(wav)) == (1 if wav is mos_clips["short"] else 2)
        expected = ref(wav, 16000, False)
        assert dnsmos.score([wav], VerifyRequest())[0] == pytest.approx(expected["ovrl_mos"],
                                                                        abs=1e-5)


def test_dnsmos_fields():
    assert DNSMOSVerifier("sig").name == "mos-sig"
    with pytest.raises(InputError, match="DNSMOS field"):
        DNSMOSVerifier("loud")


def test_distillmos_import_leaves_no_torchaudio_stand_in():
    # In a fresh process: other tests (the xcodec2 parity stand-in) may hold a torchaudio module.
    import subprocess
    import sys

    code = ("import sys; from llasa.verifiers.quality import _import_distillmos; "
            "_import_distillmos(); "
            "assert 'torchaudio' not in sys.modules, 'stand-in left behind'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


def test_dnsmos_other_heads_match_speechmos(dnsmos, mos_clips):
    wav = mos_clips["short"]
    expected = dnsmos.backend()(wav, 16000, False)
    for field, key in (("sig", "sig_mos"), ("bak", "bak_mos"), ("p808", "p808_mos")):
        got = DNSMOSVerifier(field, max_batch=1).score([wav], VerifyRequest())[0]
        assert got == pytest.approx(float(expected[key]), abs=1e-4), field
