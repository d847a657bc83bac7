"""How large a search may be: one rule for the CLI, the Python API and the server.

A search runs ``rows`` candidates side by side in one LM batch (best-of-N: N; beam: B×K;
hybrid: the larger of B×K and M; threshold: its budget). Two checks, both before anything big
is allocated:

1. :func:`check_search_rows` (no model needed, so the CLI and the server run it before loading
   or queueing anything): ``rows`` ≤ a limit, at most :data:`MAX_SEARCH_ROWS`. The server's
   limit is ``ServeSettings.max_search_candidates`` (default 16).
2. :func:`check_search_memory` (in :func:`llasa.search.search`, once the prompt length and the
   token cap are known): the KV cache and logits of ``rows`` rows must fit in the memory free
   on the LM's device.
"""

from __future__ import annotations

from .._common.errors import BudgetError, InputError

MAX_SEARCH_ROWS = 256  # candidates in one LM batch; also the server schema's absolute bound
_GIB = 1024 ** 3


def search_rows(config) -> int:
    """Rows one LM batch of this search holds (its ``budget``)."""
    return int(config.budget)


def check_search_rows(config, limit: int = MAX_SEARCH_ROWS) -> int:
    """Raise InputError when the search needs more than ``limit`` rows; return the rows."""
    rows, limit = search_rows(config), min(int(limit), MAX_SEARCH_ROWS)
    if rows > limit:
        raise InputError(f"search needs {rows} candidates in one batch, over the limit of "
                         f"{limit}; use a smaller N (or B×K, M)")
    return rows


def bytes_per_row(lm_config, tokens: int, dtype_bytes: int) -> int:
    """Memory one candidate row needs: its KV cache for ``tokens`` positions plus fp32 logits
    (the sampler keeps about three vocabulary-sized copies per step)."""
    layers = int(lm_config.num_hidden_layers)
    heads = int(getattr(lm_config, "num_key_value_heads", None) or lm_config.num_attention_heads)
    head_dim = int(getattr(lm_config, "head_dim", None)
                   or lm_config.hidden_size // lm_config.num_attention_heads)
    kv = 2 * layers * heads * head_dim * int(tokens) * dtype_bytes
    return kv + 3 * int(lm_config.vocab_size) * 4


def available_bytes(device) -> int:
    """Memory free for new tensors on ``device`` (CUDA: free device memory; else host RAM)."""
    import torch

    dev = torch.device(device)
    if dev.type == "cuda":
        return int(torch.cuda.mem_get_info(dev)[0])
    import psutil

    return int(psutil.virtual_memory().available)


def check_search_memory(config, lm_config, tokens: int, dtype_bytes: int, available: int
                        ) -> None:
    """Raise BudgetError when ``rows`` rows of ``tokens`` positions would not fit in
    ``available`` bytes (half of it: the codec, the verifiers and activations need the rest)."""
    rows = search_rows(config)
    need = rows * bytes_per_row(lm_config, tokens, dtype_bytes)
    if need > available // 2:
        fit = max(1, (available // 2) // bytes_per_row(lm_config, tokens, dtype_bytes))
        raise BudgetError(f"search needs {rows} candidates × {tokens} tokens ≈ "
                          f"{need / _GIB:.1f} GiB for the LM's cache, more than half of the "
                          f"{available / _GIB:.1f} GiB free; use at most {fit} candidates")
