"""Training-only semantic reconstruction head (X-codec2's ``fc_post_s`` + ``SemanticDecoder``).

It maps the quantised latents back to the frozen semantic encoder's features, so that the
codes keep semantic content (loss: MSE, weight 5 in the recipe). It is not part of the
inference checkpoint; the trainer keeps it in its own training checkpoint.
Notation: ``b`` batch, ``q`` latent (quantiser) dim, ``s`` semantic dim, ``t`` frames.
"""

from __future__ import annotations

import torch
from torch import nn


class SemanticHead(nn.Module):
    """Linear ``q → s`` then a conv block with the semantic adapter's layout.

    Layout: conv(k3, no bias) → ReLU → [conv(k3) → ReLU → conv(k3)] + skip → conv(k3, no bias),
    where the skip carries the post-ReLU activation (as the official adapter's in-place ReLU does).
    """

    def __init__(self, latent_dim: int, semantic_dim: int):
        super().__init__()
        self.fc = nn.Linear(latent_dim, semantic_dim)
        self.conv1 = nn.Conv1d(semantic_dim, semantic_dim, 3, padding=1, bias=False)
        self.conv2 = nn.Conv1d(semantic_dim, semantic_dim, 3, padding=1)
        self.conv3 = nn.Conv1d(semantic_dim, semantic_dim, 3, padding=1)
        self.conv4 = nn.Conv1d(semantic_dim, semantic_dim, 3, padding=1, bias=False)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        """Args: latents [b, q, t]. Returns: predicted semantic features [b, s, t]."""
        h = self.fc(latents.transpose(1, 2)).transpose(1, 2)  # [b, t, q] → [b, s, t]
        h = torch.relu(self.conv1(h))
        h = self.conv3(torch.relu(self.conv2(h))) + h
        return self.conv4(h)
