"""Tiny real models for the pipeline tests, built once per session.

- ``tiny_tts`` / ``chatty_tts`` come from tests/conftest.py (shared with the search tests).
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def prompt_voice(tiny_codec, speech):
    """A voice from real espeak-ng speech (1.5 s kept), encoded by the tiny codec."""
    from llasa.tts import Voice

    wav = speech("The birch canoe slid on the smooth planks.")
    return Voice.from_audio(tiny_codec, wav, "The birch canoe slid", max_seconds=1.5)
