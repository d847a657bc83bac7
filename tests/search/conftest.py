"""Tiny real models and real bundled verifiers for the search tests, built once per session.

- ``tiny_tts``: tiny Llasa LM (65 536 speech tokens, random weights) + tiny X-codec2; it never
  samples END within a few dozen tokens, so every row runs to the token cap and compute
  counts have closed forms.
- ``chatty_tts``: a 16-code LM with scaled-up weights that ends after a few to a few dozen
  tokens (finished hypotheses leave the beam).
- ``voice``: real espeak-ng speech encoded by the tiny codec (the SIM reference).
- ``registry``: one VerifierRegistry, so resemblyzer / Whisper / DNSMOS load once.
"""

from __future__ import annotations

import pytest

CAP = 30  # max_new_tokens in most tests: short audio keeps the verifiers fast


@pytest.fixture(scope="session")
def tiny_codec():
    from llasa.codec import presets
    from llasa.codec.model import Codec

    return Codec.from_config(presets.tiny(), seed=0)


@pytest.fixture(scope="session")
def tiny_tts(tiny_codec):
    from llasa.lm.tiny import tiny_lm
    from llasa.tts import Llasa

    return Llasa(tiny_lm(codebook_size=65536, seed=0), tiny_codec)


@pytest.fixture(scope="session")
def chatty_tts(tiny_codec):
    import torch

    from llasa.lm.tiny import tiny_lm
    from llasa.tts import Llasa

    lm = tiny_lm(codebook_size=16, seed=0)
    with torch.no_grad():
        for p in lm.model.parameters():
            if p.ndim == 2:
                p.mul_(25.0)
    return Llasa(lm, tiny_codec)


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
