"""Seeding helpers: explicit torch.Generator objects instead of global RNG state."""

from __future__ import annotations

import torch


def make_generator(seed: int | None, device: str | torch.device = "cpu") -> torch.Generator:
    g = torch.Generator(device=device)
    if seed is None:
        g.seed()
    else:
        g.manual_seed(int(seed))
    return g
