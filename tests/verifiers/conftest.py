"""Session-wide verifier instances (each real model loads once per test session) and clips."""

from __future__ import annotations

import numpy as np
import pytest

TEXT_A = "Please call Stella and ask her to bring these things with her from the store."
TEXT_B = "The quick brown fox jumps over the lazy dog near the river bank."
WRONG_TEXT = "Seven green elephants were dancing quietly on the moon last winter."


@pytest.fixture(scope="session")
def transcriber():
    from llasa.verifiers import Transcriber

    return Transcriber()


@pytest.fixture(scope="session")
def sim():
    from llasa.verifiers import SpeakerSimilarity

    return SpeakerSimilarity()


@pytest.fixture(scope="session")
def dnsmos():
    from llasa.verifiers import DNSMOSVerifier

    return DNSMOSVerifier()


@pytest.fixture(scope="session")
def clips(speech):
    """Real espeak-ng speech: two texts by one voice, the same text by two other voices."""
    return {
        "ref": speech(TEXT_B, voice="en-us"),
        "a": speech(TEXT_A, voice="en-us"),
        "a_other": speech(TEXT_A, voice="en-us+f4", pitch=75),
        "a_scot": speech(TEXT_A, voice="en-gb-scotland+m3"),
    }


def add_noise(wav: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    """White noise at a given SNR (dB) relative to the clip's power."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(wav.size).astype(np.float32)
    scale = np.sqrt(np.mean(wav**2) / (10 ** (snr_db / 10)) / np.mean(noise**2))
    return np.clip(wav + scale * noise, -1, 1).astype(np.float32)
