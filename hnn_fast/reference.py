"""Pure-PyTorch definitions of every hnn_fast op.

These loops are the semantics: the fused CPU and CUDA kernels are tested against them, and the
benchmarks time them (eagerly and under torch.compile) as the baseline. They favour clarity over speed.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

# Default alpha (width or sharpness) of each surrogate derivative, as in DESIGN.md.
SURROGATE_ALPHA = {
    "rectangle": 1.0,
    "triangle": 1.0,
    "sigmoid": 4.0,
    "atan": 2.0,
    "fast_sigmoid": 10.0,
}
RESETS = ("hard", "soft")


def surrogate_alpha(surrogate: str, alpha: float | None) -> float:
    """alpha, or the surrogate's default when None; checks the surrogate's name."""
    if surrogate not in SURROGATE_ALPHA:
        raise ValueError(f"surrogate must be one of {', '.join(map(repr, SURROGATE_ALPHA))}, got {surrogate!r}")
    return SURROGATE_ALPHA[surrogate] if alpha is None else float(alpha)


def surrogate_grad(surrogate: str, u: Tensor, alpha: float) -> Tensor:
    """g(u), the stand-in for dH/du of the Heaviside step H(u)."""
    if surrogate == "rectangle":
        return (u.abs() < alpha / 2).to(u.dtype) / alpha
    if surrogate == "triangle":
        return (1 - u.abs() / alpha).clamp(min=0) / alpha
    if surrogate == "sigmoid":
        sg = torch.sigmoid(alpha * u)
        return alpha * sg * (1 - sg)
    if surrogate == "atan":
        return (alpha / 2) / (1 + (math.pi / 2 * alpha * u) ** 2)
    if surrogate == "fast_sigmoid":
        return 1 / (1 + alpha * u.abs()) ** 2
    raise ValueError(f"unknown surrogate {surrogate!r}")


class _Spike(torch.autograd.Function):
    """H(u) = 1 if u >= 0 else 0, with the surrogate derivative in the backward."""

    @staticmethod
    def forward(ctx, u: Tensor, surrogate: str, alpha: float) -> Tensor:
        ctx.save_for_backward(u)
        ctx.surrogate, ctx.alpha = surrogate, alpha
        return (u >= 0).to(u.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (u,) = ctx.saved_tensors
        return grad * surrogate_grad(ctx.surrogate, u, ctx.alpha), None, None


def spike(u: Tensor, surrogate: str = "rectangle", alpha: float | None = None) -> Tensor:
    return _Spike.apply(u, surrogate, surrogate_alpha(surrogate, alpha))


def _is_per_step(threshold, x: Tensor) -> bool:
    return isinstance(threshold, Tensor) and threshold.dim() == x.dim()


def lif(
    x: Tensor,
    v0: Tensor | None = None,
    *,
    decay: float | Tensor = 0.5,
    threshold: float | Tensor = 1.0,
    reset: str = "hard",
    v_reset: float = 0.0,
    detach_reset: bool = False,
    surrogate: str = "rectangle",
    alpha: float | None = None,
) -> tuple[Tensor, Tensor]:
    """Multi-step LIF over x = [T, *shape]: returns (spikes [T, *shape], last membrane [*shape])."""
    if reset not in RESETS:
        raise ValueError(f"reset must be 'hard' or 'soft', got {reset!r}")
    alpha = surrogate_alpha(surrogate, alpha)
    thresholds = threshold.expand_as(x) if _is_per_step(threshold, x) else None
    v = x.new_zeros(x.shape[1:]) if v0 is None else v0
    spikes = []
    for t in range(x.shape[0]):
        th = thresholds[t] if thresholds is not None else threshold
        h = decay * v + x[t]
        s = spike(h - th, surrogate, alpha)
        s_reset = s.detach() if detach_reset else s
        v = h * (1 - s_reset) + v_reset * s_reset if reset == "hard" else h - th * s_reset
        spikes.append(s)
    out = torch.stack(spikes) if spikes else torch.empty_like(x)
    return out, v


def leaky_integrate(x: Tensor, v0: Tensor | None = None, *, decay: float | Tensor = 0.5) -> Tensor:
    """v_t = decay * v_{t-1} + x_t over x = [T, *shape]: returns every v_t, [T, *shape]."""
    v = x.new_zeros(x.shape[1:]) if v0 is None else v0
    out = []
    for t in range(x.shape[0]):
        v = decay * v + x[t]
        out.append(v)
    return torch.stack(out) if out else torch.empty_like(x)
