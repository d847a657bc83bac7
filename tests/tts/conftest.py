"""Tiny real models for the pipeline tests, built once per session.

- ``tiny_tts``: a tiny Llasa LM with the official 65 536 speech tokens + the tiny X-codec2
  (random weights), so voices encoded by the codec are valid LM prompts.
- ``chatty_tts``: the same codec with a 16-code LM whose random weights are scaled up
  (std ~0.5 instead of 0.02). With so few speech tokens it emits SPEECH_GENERATION_END after
  a few to a few dozen tokens (ending, continuation carrying, early stops), and its sharper
  attention makes even greedy output depend on the text (batched = one-by-one tests).
"""

from __future__ import annotations

import pytest


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
    from llasa.lm.tiny import tiny_lm
    from llasa.tts import Llasa

    import torch

    lm = tiny_lm(codebook_size=16, seed=0)
    with torch.no_grad():
        for p in lm.model.parameters():
            if p.ndim == 2:  # embeddings and projections; norms stay 1
                p.mul_(25.0)
    return Llasa(lm, tiny_codec)


@pytest.fixture(scope="session")
def prompt_voice(tiny_codec, speech):
    """A voice from real espeak-ng speech (1.5 s kept), encoded by the tiny codec."""
    from llasa.tts import Voice

    wav = speech("The birch canoe slid on the smooth planks.")
    return Voice.from_audio(tiny_codec, wav, "The birch canoe slid", max_seconds=1.5)
