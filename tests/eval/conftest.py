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
def eval_model_dir(tmp_path_factory) -> Path:
    """``<dir>/lm`` and ``<dir>/codec``: tiny LlasaLM + tiny codec in HF layout."""
    from llasa.codec import presets
    from llasa.codec.model import Codec
    from llasa.lm.tiny import tiny_lm

    root = tmp_path_factory.mktemp("eval-tiny-model")
    # the full 65 536-token speech vocabulary: cloning prompts may use any codec code
    tiny_lm(codebook_size=65536, seed=0).save_pretrained(root / "lm")
    Codec.from_config(presets.tiny(), seed=0).save_pretrained(root / "codec")
    return root


@pytest.fixture(scope="session")
def eval_tts(eval_model_dir):
    from llasa.tts.pipeline import Llasa

    return Llasa.from_pretrained(lm=eval_model_dir / "lm", codec=eval_model_dir / "codec",
                                 device="cpu")
