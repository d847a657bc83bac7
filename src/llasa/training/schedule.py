"""Learning-rate schedules as ``LambdaLR`` lambdas.

The codec recipe's schedule returns the *absolute* learning rate: the optimizer is built with
``lr=1.0`` and the lambda's value is the lr (as in the official X-codec2 training code).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .._common.errors import InputError


@dataclass
class WarmupDecay:
    """Quadratic warm-up from ``start_lr`` to ``peak_lr`` over ``warmup_steps``, then linear
    decay to ``final_lr`` over ``decay_steps``, then constant. Defaults: X-codec2 recipe.

    Call it with a step to get the lr; it is picklable-free (a dataclass), so ``LambdaLR``'s
    state_dict holds no function object.
    """

    start_lr: float = 1e-5
    peak_lr: float = 1e-4
    final_lr: float = 2e-5
    warmup_steps: int = 3000
    decay_steps: int = 400_000

    def __post_init__(self):
        if min(self.start_lr, self.peak_lr, self.final_lr) < 0:
            raise InputError("WarmupDecay: learning rates must be >= 0")
        if self.warmup_steps < 0 or self.decay_steps < 0:
            raise InputError("WarmupDecay: warmup_steps and decay_steps must be >= 0")

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            frac = step / self.warmup_steps
            return self.start_lr + (self.peak_lr - self.start_lr) * frac * frac
        step -= self.warmup_steps
        if step < self.decay_steps:
            return self.peak_lr + (self.final_lr - self.peak_lr) * step / self.decay_steps
        return self.final_lr


def warmup_decay_scheduler(optimizer: torch.optim.Optimizer,
                           schedule: WarmupDecay) -> torch.optim.lr_scheduler.LambdaLR:
    """``LambdaLR`` giving absolute lr ``schedule(step)``: every param group's base lr is set
    to 1.0 first, so the lambda's value *is* the learning rate."""
    for group in optimizer.param_groups:
        group["lr"] = 1.0
        group["initial_lr"] = 1.0
    return torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
