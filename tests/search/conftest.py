"""Tiny real models and real bundled verifiers for the search tests, built once per session.

- ``tiny_tts`` / ``chatty_tts`` (tests/conftest.py): the first never samples END within a few
  dozen tokens, so compute counts have closed forms; the second ends early (finished
  hypotheses leave the beam).
- ``voice``: real espeak-ng speech encoded by the tiny codec (the SIM reference).
- ``registry``: one VerifierRegistry, so resemblyzer / Whisper / DNSMOS load once.
"""

from __future__ import annotations

import pytest

CAP = 30  # max_new_tokens in most tests: short audio keeps the verifiers fast


@pytest.fixture(scope="session")
def voice(tiny_codec, speech):
    import warnings

    from llasa.tts import Voice

    wav = speech("The birch canoe slid on the smooth planks.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Voice.from_audio(tiny_codec, wav, "The birch canoe slid", max_seconds=1.5)


@pytest.fixture(scope="session")
def registry():
    from llasa.verifiers import VerifierRegistry

    return VerifierRegistry()
