"""Tiny real Llasa LMs shared by the lm tests (built offline in ~1 s)."""

import pytest

from llasa.lm import tiny_lm


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):  # tests/conftest.py
    yield


@pytest.fixture(scope="session")
def lm():
    """fp32 tiny LM: 256 speech tokens, hidden 64, 2 layers, seed 0 (do not mutate)."""
    return tiny_lm(codebook_size=256, seed=0)
