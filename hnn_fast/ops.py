"""The fused ops: typed Python wrappers over torch.ops.hnn_fast, with their fake-tensor and autograd
registrations. Schemas: csrc/registration.cpp. Semantics: hnn_fast/reference.py."""

from __future__ import annotations

import numbers

import torch
from torch import Tensor

from . import _loader  # noqa: F401  (loads the op library)
from . import reference

_BACKENDS = ("fused", "reference")
_backend = "fused"


def set_backend(name: str) -> None:
    """Run hnn_fast.ops (and every module and model built on them) on the fused kernels ("fused",
    the default) or on the pure-PyTorch loops of hnn_fast.reference ("reference")."""
    global _backend
    if name not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}, got {name!r}")
    _backend = name


def get_backend() -> str:
    return _backend


def _tensor_or_value(value, name: str, default: float) -> tuple[Tensor | None, float]:
    """Split a float-or-tensor parameter into the op's (Tensor?, float) pair."""
    if isinstance(value, Tensor):
        return value, default
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return None, float(value)
    raise TypeError(f"{name} must be a float or a tensor, got {type(value).__name__}")


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _needs_grad(*tensors) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


# ---------------------------------------------------------------------------------------------- lif


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
    """Multi-step leaky integrate-and-fire neuron.

    x is [T, *shape]. For t = 1..T: h_t = decay * v_{t-1} + x_t; s_t = H(h_t - threshold_t); then
    v_t = h_t (1 - s_t) + v_reset s_t (reset="hard") or v_t = h_t - threshold_t s_t (reset="soft").
    decay: a float in [0, 1] or a tensor broadcastable to shape. threshold: a float, a tensor
    broadcastable to shape, or a tensor of x's rank broadcastable to [T, *shape] (one per step).
    The backward replaces dH/du by the named surrogate (alpha defaults per surrogate); detach_reset
    drops the gradient through the reset. Returns (spikes in x's dtype, the last membrane v_T).
    """
    if _backend == "reference":
        return reference.lif(x, v0, decay=decay, threshold=threshold, reset=reset, v_reset=v_reset,
                             detach_reset=detach_reset, surrogate=surrogate, alpha=alpha)
    alpha = reference.surrogate_alpha(surrogate, alpha)
    decay_tensor, decay_value = _tensor_or_value(decay, "decay", 0.0)
    threshold_tensor, threshold_value = _tensor_or_value(threshold, "threshold", 0.0)
    save_h = _needs_grad(x, v0, decay_tensor, threshold_tensor)
    spikes, v_last, _ = torch.ops.hnn_fast.lif(
        x, v0, decay_tensor, decay_value, threshold_tensor, threshold_value, reset, float(v_reset),
        bool(detach_reset), surrogate, alpha, save_h)
    return spikes, v_last


@torch.library.register_fake("hnn_fast::lif")
def _lif_fake(x, v0, decay, decay_value, threshold, threshold_value, reset, v_reset, detach_reset,
              surrogate, alpha, save_h):
    spikes = torch.empty_like(x, memory_format=torch.contiguous_format)
    v_last = x.new_empty(x.shape[1:])
    h = x.new_empty(x.shape if save_h else (0,), dtype=_compute_dtype(x.dtype))
    return spikes, v_last, h


@torch.library.register_fake("hnn_fast::lif_backward")
def _lif_backward_fake(grad_spikes, grad_v_last, h, v0, decay, decay_value, threshold, threshold_value,
                       reset, v_reset, detach_reset, surrogate, alpha, output_mask):
    empty = grad_spikes.new_empty((0,))
    need_v0, need_decay, need_threshold = output_mask
    return (
        torch.empty_like(grad_spikes, memory_format=torch.contiguous_format),
        torch.empty_like(v0) if need_v0 else empty,
        torch.empty_like(decay) if need_decay else empty,
        torch.empty_like(threshold) if need_threshold else empty,
    )


def _lif_setup_context(ctx, inputs, output):
    (x, v0, decay, decay_value, threshold, threshold_value, reset, v_reset, detach_reset, surrogate,
     alpha, save_h) = inputs
    ctx.save_for_backward(output[2], v0, decay, threshold)
    ctx.config = (decay_value, threshold_value, reset, v_reset, detach_reset, surrogate, alpha)
    needs = ctx.needs_input_grad
    ctx.output_mask = [v0 is not None and needs[1], decay is not None and needs[2],
                       threshold is not None and needs[4]]


def _lif_backward(ctx, grad_spikes, grad_v_last, _grad_h):
    h, v0, decay, threshold = ctx.saved_tensors
    decay_value, threshold_value, reset, v_reset, detach_reset, surrogate, alpha = ctx.config
    grad_x, grad_v0, grad_decay, grad_threshold = torch.ops.hnn_fast.lif_backward(
        grad_spikes, grad_v_last, h, v0, decay, decay_value, threshold, threshold_value, reset, v_reset,
        detach_reset, surrogate, alpha, ctx.output_mask)
    need_v0, need_decay, need_threshold = ctx.output_mask
    return (grad_x, grad_v0 if need_v0 else None, grad_decay if need_decay else None, None,
            grad_threshold if need_threshold else None, None, None, None, None, None, None, None)


torch.library.register_autograd("hnn_fast::lif", _lif_backward, setup_context=_lif_setup_context)


# ---------------------------------------------------------------------------------- leaky_integrate


def leaky_integrate(x: Tensor, v0: Tensor | None = None, *, decay: float | Tensor = 0.5) -> Tensor:
    """Leaky integrator v_t = decay * v_{t-1} + x_t over x = [T, *shape]; returns all v_t, [T, *shape].

    decay: a float in [0, 1] or a tensor broadcastable to shape. Gradients flow to x, v0 and a tensor
    decay. It serves non-spiking readout neurons and the exponential kernel of hybrid units.
    """
    if _backend == "reference":
        return reference.leaky_integrate(x, v0, decay=decay)
    decay_tensor, decay_value = _tensor_or_value(decay, "decay", 0.0)
    return torch.ops.hnn_fast.leaky_integrate(x, v0, decay_tensor, decay_value)


@torch.library.register_fake("hnn_fast::leaky_integrate")
def _leaky_integrate_fake(x, v0, decay, decay_value):
    return torch.empty_like(x, memory_format=torch.contiguous_format)


@torch.library.register_fake("hnn_fast::leaky_integrate_backward")
def _leaky_integrate_backward_fake(grad_v_seq, v_seq, v0, decay, decay_value, output_mask):
    empty = grad_v_seq.new_empty((0,))
    need_v0, need_decay = output_mask
    return (
        torch.empty_like(grad_v_seq, memory_format=torch.contiguous_format),
        torch.empty_like(v0) if need_v0 else empty,
        torch.empty_like(decay) if need_decay else empty,
    )


def _leaky_integrate_setup_context(ctx, inputs, output):
    x, v0, decay, decay_value = inputs
    ctx.save_for_backward(output, v0, decay)
    ctx.decay_value = decay_value
    needs = ctx.needs_input_grad
    ctx.output_mask = [v0 is not None and needs[1], decay is not None and needs[2]]


def _leaky_integrate_backward(ctx, grad_v_seq):
    v_seq, v0, decay = ctx.saved_tensors
    grad_x, grad_v0, grad_decay = torch.ops.hnn_fast.leaky_integrate_backward(
        grad_v_seq, v_seq, v0, decay, ctx.decay_value, ctx.output_mask)
    need_v0, need_decay = ctx.output_mask
    return grad_x, grad_v0 if need_v0 else None, grad_decay if need_decay else None, None


torch.library.register_autograd("hnn_fast::leaky_integrate", _leaky_integrate_backward,
                                setup_context=_leaky_integrate_setup_context)
