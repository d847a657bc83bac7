"""Tiny real Llasa LMs shared by the lm tests (built offline in ~1 s)."""

import pytest
import torch

from llasa.lm import tiny_lm


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny models gain nothing from intra-op threads, and on a shared 2-core machine thread
    # hand-offs make them 10-30x slower. Restored after each test.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def lm():
    """fp32 tiny LM: 256 speech tokens, hidden 64, 2 layers, seed 0 (do not mutate)."""
    return tiny_lm(codebook_size=256, seed=0)
