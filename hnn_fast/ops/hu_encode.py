"""hnn_fast::hu_encode: the Python wrapper, fake-tensor and autograd registrations.
Schema: csrc/registration.cpp; host code: csrc/hu_encode.cpp; kernels: csrc/cpu/, csrc/cuda/;
semantics: hnn_fast.reference.hu_encode."""

from __future__ import annotations

import numbers

import torch
from torch import Tensor

from .. import reference
from ..options import DEFAULT_ENCODE_MODE, DEFAULT_NONLINEARITY, ENCODE_MODES, NONLINEARITIES, check_name
from . import _common
from ._checks import check_floating, check_same_device, check_sequence
from ._common import forbid_double_backward


def hu_encode(
    a: Tensor,
    T: int,
    *,
    mode: str = DEFAULT_ENCODE_MODE,
    nonlinearity: str = DEFAULT_NONLINEARITY,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Real values to spikes: the sampler, nonlinearity (F) and discretization (Q) of a hybrid unit, fused.

    a is [*shape]; returns spikes [T, *shape] in a's dtype. With p = clamp(F(a), 0, 1) and F one of
    "identity", "sigmoid", "relu", "tanh", "hardtanh":
    - "rate": integrate-and-fire of p (threshold 1, soft reset, from 0): s_t = floor((t+1) p) - floor(t p),
      so the count is floor(T p), evenly spread;
    - "poisson": s_t = [u_t < p], u_t uniform in [0, 1) drawn by torch.rand([T, *shape]) with
      `generator` (on the generator's device, then moved to a's): reproducible, and identical across
      devices when the generator is a CPU one;
    - "latency": one spike at step round((1 - p)(T - 1)) (half to even) when p > 0, none when p = 0.

    Gradient: dp/da = F'(a), zero where the clamp is active (F(a) outside [0, 1]; F(a) = 0 or 1 exactly
    passes). ds_t/dp is 1 for "rate" and "poisson" (straight-through, E[s_t] = p). For "latency" it is
    the derivative of the spike linearly interpolated between steps floor(tau) and floor(tau) + 1,
    tau = (1 - p)(T - 1): (T - 1) for t - tau in (-1, 0], -(T - 1) for t - tau in (0, 1], else 0. So the
    spike count gets no gradient and the spike time sum_t t s_t gets dtau/dp = -(T - 1).
    """
    if not isinstance(T, (numbers.Integral, torch.SymInt)) or isinstance(T, bool):
        raise TypeError(f"T must be an int, got {type(T).__name__}")
    if T < 0:
        raise ValueError(f"T (the number of steps) must be >= 0, got {T}")
    check_name(mode, ENCODE_MODES, "mode")
    check_name(nonlinearity, NONLINEARITIES, "nonlinearity")
    if _common.get_backend() == "reference":
        return reference.hu_encode(a, T, mode=mode, nonlinearity=nonlinearity, generator=generator)
    uniform = reference.encode_uniform(a, T, generator) if mode == "poisson" else None
    return torch.ops.hnn_fast.hu_encode(a, T, mode, nonlinearity, uniform)


@_common.register_fake("hnn_fast::hu_encode")
def _hu_encode_fake(a, T, mode, nonlinearity, uniform):
    # The host code's checks (csrc/hu_encode.cpp).
    check_floating(a, "a")
    if not 0 <= T < 2**31:
        raise ValueError(f"T (the number of steps) must be in [0, 2^31), got {T}")
    check_name(mode, ENCODE_MODES, "mode")
    check_name(nonlinearity, NONLINEARITIES, "nonlinearity")
    if mode != "poisson":
        if uniform is not None:
            raise ValueError("uniform is used only by mode='poisson'")
    elif uniform is None:
        raise ValueError("mode='poisson' needs uniform, the [T, *a.shape] draws in [0, 1)")
    else:
        check_same_device(a, uniform=uniform)
        check_floating(uniform, "uniform")
        if tuple(uniform.shape) != (T, *a.shape):
            raise ValueError(
                f"uniform must have shape [T, *a.shape] = {[T, *a.shape]}, got {list(uniform.shape)}"
            )
    return a.new_empty((T, *a.shape))


@_common.register_fake("hnn_fast::hu_encode_backward")
def _hu_encode_backward_fake(grad_spikes, a, mode, nonlinearity):
    check_sequence(grad_spikes, "grad_spikes")
    check_floating(a, "a")
    check_same_device(a, grad_spikes=grad_spikes)
    return torch.empty_like(a, memory_format=torch.contiguous_format)


def _hu_encode_setup_context(ctx, inputs, output):
    a, _T, mode, nonlinearity, _uniform = inputs
    ctx.save_for_backward(a)
    ctx.config = (mode, nonlinearity)


def _hu_encode_backward(ctx, grad_spikes):
    (a,) = ctx.saved_tensors
    mode, nonlinearity = ctx.config
    grad_a = torch.ops.hnn_fast.hu_encode_backward(grad_spikes, a, mode, nonlinearity)
    return grad_a, None, None, None, None


_common.register_autograd("hnn_fast::hu_encode", _hu_encode_backward, setup_context=_hu_encode_setup_context)
forbid_double_backward("hu_encode_backward", "hu_encode")
