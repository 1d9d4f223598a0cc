"""Stateless layers over time: any module run on [T, B, ...] by folding T into the batch."""

from __future__ import annotations

from torch import Tensor, nn


def time_distributed(module: nn.Module, x: Tensor) -> Tensor:
    """module applied to every step of x = [T, B, ...] at once, as one batch of T * B samples; the
    result is [T, B, ...] again. BatchNorm thus normalises over the steps and the batch together."""
    if x.dim() < 2:
        raise ValueError(f"x must be [T, B, ...], got shape {tuple(x.shape)}")
    y = module(x.flatten(0, 1))
    return y.unflatten(0, x.shape[:2])


class TimeDistributed(nn.Module):
    """Wraps modules (Conv2d, BatchNorm, Linear, pooling, ..., run in order) for sequences [T, B, ...],
    so that they sit between multi-step neurons in an nn.Sequential:

        nn.Sequential(TimeDistributed(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8)), LIF(), ...)

    A single module is kept as `module`; several as an nn.Sequential."""

    def __init__(self, *modules: nn.Module):
        super().__init__()
        if not modules:
            raise ValueError("TimeDistributed needs at least one module")
        self.module = modules[0] if len(modules) == 1 else nn.Sequential(*modules)

    def forward(self, x: Tensor) -> Tensor:
        return time_distributed(self.module, x)
