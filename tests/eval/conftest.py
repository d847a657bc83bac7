"""Shared eval fixtures: the shipped tiny list, real judges (loaded once per session), and a
tiny random-weight LM + codec saved to disk (real components, no mocks)."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_LIST = Path(__file__).resolve().parents[2] / "data" / "evalsets" / "tiny" / "meta.lst"
MAX_NEW_TOKENS = 60  # 1.2 s of speech per utterance keeps the tiny-model runs fast


@pytest.fixture(scope="session")
def tiny_items():
    from llasa.eval.testsets import load_list

    return load_list(TINY_LIST)


@pytest.fixture(scope="session")
def judges():
    """The default offline judges: Whisper tiny.en, resemblyzer SIM, DNSMOS."""
    from llasa.eval.judges import Judges

    return Judges.build()


@pytest.fixture(scope="session")
def eval_model_dir(tiny_model_dir) -> Path:
    """The shared tiny LM + codec on disk (tests/conftest.py)."""
    return tiny_model_dir


@pytest.fixture(scope="session")
def eval_tts(eval_model_dir):
    from llasa.tts.pipeline import Llasa

    return Llasa.from_pretrained(lm=eval_model_dir / "lm", codec=eval_model_dir / "codec",
                                 device="cpu")
