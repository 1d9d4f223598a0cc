"""Pure-PyTorch definitions of every hnn_fast op.

These loops are the semantics: the fused CPU and CUDA kernels are tested against them, and the
benchmarks time them (eagerly and under torch.compile) as the baseline. They favour clarity over speed.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .options import (
    DEFAULT_DECAY,
    DEFAULT_DROP_LAST,
    DEFAULT_ENCODE_MODE,
    DEFAULT_NONLINEARITY,
    DEFAULT_RESET,
    DEFAULT_SURROGATE,
    DEFAULT_THRESHOLD,
    DEFAULT_V_RESET,
    DEFAULT_WINDOW_KERNEL,
    ENCODE_MODES,
    NONLINEARITIES,
    RESETS,
    SURROGATE_ALPHA,
    WINDOW_KERNELS,
    check_name,
    compute_dtype,
    surrogate_alpha,
    window_count,
)


def surrogate_grad(surrogate: str, u: Tensor, alpha: float) -> Tensor:
    """g(u), the stand-in for dH/du of the Heaviside step H(u)."""
    check_name(surrogate, SURROGATE_ALPHA, "surrogate")
    if surrogate == "rectangle":
        return (u.abs() < alpha / 2).to(u.dtype) / alpha
    if surrogate == "triangle":
        return (1 - u.abs() / alpha).clamp(min=0) / alpha
    if surrogate == "sigmoid":
        sg = torch.sigmoid(alpha * u)
        return alpha * sg * (1 - sg)
    if surrogate == "atan":
        return (alpha / 2) / (1 + (math.pi / 2 * alpha * u) ** 2)
    return 1 / (1 + alpha * u.abs()) ** 2  # fast_sigmoid


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


def spike(u: Tensor, surrogate: str = DEFAULT_SURROGATE, alpha: float | None = None) -> Tensor:
    return _Spike.apply(u, surrogate, surrogate_alpha(surrogate, alpha))


def _is_per_step(threshold, x: Tensor) -> bool:
    return isinstance(threshold, Tensor) and threshold.dim() == x.dim()


def _fire_and_reset(h, th, reset, v_reset, detach_reset, surrogate, alpha) -> tuple[Tensor, Tensor]:
    """The spike s_t = H(h_t - theta_t) and the membrane v_t after the reset, from the charge h_t."""
    s = spike(h - th, surrogate, alpha)
    s_reset = s.detach() if detach_reset else s
    return s, h * (1 - s_reset) + v_reset * s_reset if reset == "hard" else h - th * s_reset


def lif(
    x: Tensor,
    v0: Tensor | None = None,
    *,
    decay: float | Tensor = DEFAULT_DECAY,
    threshold: float | Tensor = DEFAULT_THRESHOLD,
    reset: str = DEFAULT_RESET,
    v_reset: float = DEFAULT_V_RESET,
    detach_reset: bool = False,
    surrogate: str = DEFAULT_SURROGATE,
    alpha: float | None = None,
) -> tuple[Tensor, Tensor]:
    """Multi-step LIF over x = [T, *shape]: returns (spikes [T, *shape], last membrane [*shape])."""
    check_name(reset, RESETS, "reset")
    alpha = surrogate_alpha(surrogate, alpha)
    thresholds = threshold.expand_as(x) if _is_per_step(threshold, x) else None
    v = x.new_zeros(x.shape[1:]) if v0 is None else v0
    spikes = []
    for t in range(x.shape[0]):
        th = thresholds[t] if thresholds is not None else threshold
        s, v = _fire_and_reset(decay * v + x[t], th, reset, v_reset, detach_reset, surrogate, alpha)
        spikes.append(s)
    out = torch.stack(spikes) if spikes else torch.empty_like(x)
    return out, v


def recurrent_input(s: Tensor, weight: Tensor) -> Tensor:
    """s @ weight for spikes s = [B, N] and weight [N, N] (shared) or [B, N, N] (one per sample)."""
    return s @ weight if weight.dim() == 2 else (s.unsqueeze(-2) @ weight).squeeze(-2)


def lif_recurrent(
    x: Tensor,
    weight: Tensor,
    v0: Tensor | None = None,
    s0: Tensor | None = None,
    *,
    decay: float | Tensor = DEFAULT_DECAY,
    threshold: float | Tensor = DEFAULT_THRESHOLD,
    reset: str = DEFAULT_RESET,
    v_reset: float = DEFAULT_V_RESET,
    detach_reset: bool = False,
    surrogate: str = DEFAULT_SURROGATE,
    alpha: float | None = None,
) -> tuple[Tensor, Tensor]:
    """Recurrent LIF over x = [T, B, N]: h_t = decay * v_{t-1} + x_t + s_{t-1} @ weight (s_0 = s0 or
    zeros), then fire and reset as lif. Returns (spikes [T, B, N], last membrane [B, N])."""
    check_name(reset, RESETS, "reset")
    alpha = surrogate_alpha(surrogate, alpha)
    thresholds = threshold.expand_as(x) if _is_per_step(threshold, x) else None
    v = x.new_zeros(x.shape[1:]) if v0 is None else v0
    s = x.new_zeros(x.shape[1:]) if s0 is None else s0
    spikes = []
    for t in range(x.shape[0]):
        th = thresholds[t] if thresholds is not None else threshold
        h = decay * v + x[t] + recurrent_input(s, weight)
        s, v = _fire_and_reset(h, th, reset, v_reset, detach_reset, surrogate, alpha)
        spikes.append(s)
    out = torch.stack(spikes) if spikes else torch.empty_like(x)
    return out, v


def leaky_integrate(x: Tensor, v0: Tensor | None = None, *, decay: float | Tensor = DEFAULT_DECAY) -> Tensor:
    """v_t = decay * v_{t-1} + x_t over x = [T, *shape]: returns every v_t, [T, *shape]."""
    v = x.new_zeros(x.shape[1:]) if v0 is None else v0
    out = []
    for t in range(x.shape[0]):
        v = decay * v + x[t]
        out.append(v)
    return torch.stack(out) if out else torch.empty_like(x)


# ---- Hybrid units ------------------------------------------------------------------------------------


def window_weights(kernel: str | Tensor, window: int, decay: float | None, dtype: torch.dtype) -> Tensor:
    """The kernel's weights w_j, j = 0 (oldest step) .. window - 1: [window], or [C, window] as given."""
    if isinstance(kernel, Tensor):
        return kernel.to(dtype)
    check_name(kernel, WINDOW_KERNELS, "kernel", "a tensor of weights")
    if kernel == "sum":
        return torch.ones(window, dtype=dtype)
    if kernel == "mean":
        return torch.full((window,), 1.0 / window, dtype=dtype)
    return float(decay) ** torch.arange(window - 1, -1, -1, dtype=dtype)


def hu_window(
    x: Tensor,
    window: int,
    stride: int | None = None,
    *,
    kernel: str | Tensor = DEFAULT_WINDOW_KERNEL,
    decay: float | None = None,
    drop_last: bool = DEFAULT_DROP_LAST,
) -> Tensor:
    """y_k = sum_j w_j x_{k*stride + j} over windows k of x = [T, *shape]; returns [K, *shape]."""
    stride = window if stride is None else stride
    T = x.shape[0]
    K = window_count(T, window, stride, drop_last)
    w = window_weights(kernel, window, decay, x.dtype).to(x.device)
    if K == 0:
        return x.new_zeros((0, *x.shape[1:]))
    padded = (
        torch.cat([x, x.new_zeros(((K - 1) * stride + window - T, *x.shape[1:]))])
        if (K - 1) * stride + window > T
        else x
    )
    windows = padded.unfold(0, window, stride)  # [K, *shape, window]
    if w.dim() == 2:  # per channel: [C, window] against shape[0]
        w = w.view(w.shape[0], *([1] * (x.dim() - 2)), window)
    return (windows * w).sum(-1)


def encode_uniform(a: Tensor, T: int, generator: torch.Generator | None) -> Tensor:
    """The Poisson code's uniforms [T, *a.shape], drawn on the generator's device and moved to a's."""
    device = generator.device if generator is not None else a.device
    dtype = compute_dtype(a.dtype)
    return torch.rand((T, *a.shape), generator=generator, device=device, dtype=dtype).to(a.device)


class _EncodeSpikes(torch.autograd.Function):
    """Spikes from p in [0, 1] by the named code, with the documented surrogate ds_t/dp."""

    @staticmethod
    def forward(ctx, p: Tensor, T: int, mode: str, uniform: Tensor | None) -> Tensor:
        ctx.save_for_backward(p)
        ctx.T, ctx.mode = T, mode
        spikes = []
        for t in range(T):
            if mode == "rate":
                spikes.append(torch.floor((t + 1) * p) - torch.floor(t * p))
            elif mode == "poisson":
                spikes.append((uniform[t] < p).to(p.dtype))
            else:
                spikes.append(((p > 0) & (torch.round((1 - p) * (T - 1)) == t)).to(p.dtype))
        return torch.stack(spikes) if spikes else p.new_zeros((0, *p.shape))

    @staticmethod
    def backward(ctx, grad: Tensor):
        (p,) = ctx.saved_tensors
        if ctx.mode != "latency":
            return grad.sum(0), None, None, None
        tau = (1 - p) * (ctx.T - 1)
        grad_p = torch.zeros_like(p)
        for t in range(ctx.T):
            d = t - tau
            slope = torch.where(d > 0, -(ctx.T - 1.0), ctx.T - 1.0)
            grad_p = grad_p + grad[t] * torch.where((d > -1) & (d <= 1), slope, torch.zeros_like(d))
        return grad_p, None, None, None


def hu_encode(
    a: Tensor,
    T: int,
    *,
    mode: str = DEFAULT_ENCODE_MODE,
    nonlinearity: str = DEFAULT_NONLINEARITY,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Spikes [T, *a.shape] coding p = clamp(F(a), 0, 1) by rate, Poisson or latency (see ops.hu_encode)."""
    check_name(mode, ENCODE_MODES, "mode")
    check_name(nonlinearity, NONLINEARITIES, "nonlinearity")
    f = NONLINEARITIES[nonlinearity]()(a.to(compute_dtype(a.dtype)))
    # clamp to [0, 1] with the gradient passing at the bounds themselves (torch.clamp's does not)
    p = torch.where((f >= 0) & (f <= 1), f, f.detach().clamp(0, 1))
    uniform = encode_uniform(a, T, generator) if mode == "poisson" else None
    return _EncodeSpikes.apply(p, T, mode, uniform).to(a.dtype)
