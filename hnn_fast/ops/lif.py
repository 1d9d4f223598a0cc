"""hnn_fast::lif: the Python wrapper, fake-tensor and autograd registrations.
Schema: csrc/registration.cpp; host code: csrc/lif.cpp; kernels: csrc/cpu/, csrc/cuda/;
semantics: hnn_fast.reference.lif."""

from __future__ import annotations

import torch
from torch import Tensor

from .. import reference
from ..options import (
    DEFAULT_DECAY,
    DEFAULT_RESET,
    DEFAULT_SURROGATE,
    DEFAULT_THRESHOLD,
    DEFAULT_V_RESET,
    compute_dtype,
    surrogate_alpha,
)
from . import _common
from ._checks import check_bool, check_neuron
from ._common import forbid_double_backward, needs_grad, tensor_or_value


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
    return_membrane: bool = False,
) -> tuple[Tensor, Tensor] | tuple[Tensor, Tensor, Tensor]:
    """Multi-step leaky integrate-and-fire neuron.

    x is [T, *shape]. For t = 1..T: h_t = decay * v_{t-1} + x_t; s_t = H(h_t - threshold_t); then
    v_t = h_t (1 - s_t) + v_reset s_t (reset="hard") or v_t = h_t - threshold_t s_t (reset="soft").
    decay: a float in [0, 1] or a tensor broadcastable to shape. threshold: a float, a tensor
    broadcastable to shape, or a tensor of x's rank broadcastable to [T, *shape] (one per step).
    The backward replaces dH/du by the named surrogate (alpha defaults per surrogate, as
    hnn_fast.options.SURROGATE_ALPHA lists); detach_reset
    drops the gradient through the reset. Returns (spikes in x's dtype, the last membrane v_T), and
    with return_membrane=True also the membrane before the reset, h [T, *shape] in x's dtype: the
    kernel computes it anyway, and a loss on it is differentiated like one on the spikes.
    """
    check_bool(detach_reset, "detach_reset")
    check_bool(return_membrane, "return_membrane")
    neuron = dict(
        decay=decay,
        threshold=threshold,
        reset=reset,
        v_reset=v_reset,
        detach_reset=detach_reset,
        surrogate=surrogate,
        alpha=alpha,
    )
    if _common.get_backend() == "reference":
        return _reference_with_membrane(x, v0, neuron) if return_membrane else reference.lif(x, v0, **neuron)
    alpha = surrogate_alpha(surrogate, alpha)
    decay_tensor, decay_value = tensor_or_value(decay, "decay", 0.0)
    threshold_tensor, threshold_value = tensor_or_value(threshold, "threshold", 0.0)
    save_h = return_membrane or needs_grad(x, v0, decay_tensor, threshold_tensor)
    spikes, v_last, h = torch.ops.hnn_fast.lif(
        x,
        v0,
        decay_tensor,
        decay_value,
        threshold_tensor,
        threshold_value,
        reset,
        float(v_reset),
        detach_reset,
        surrogate,
        alpha,
        save_h,
    )
    return (spikes, v_last, h.to(x.dtype)) if return_membrane else (spikes, v_last)


def _reference_with_membrane(x: Tensor, v0: Tensor | None, neuron: dict) -> tuple[Tensor, Tensor, Tensor]:
    """reference.lif one step at a time, keeping each step's charge h_t = decay v_{t-1} + x_t: the
    reference semantics of the membrane, differentiable through every path the reference has."""
    threshold = neuron["threshold"]
    per_step = isinstance(threshold, Tensor) and threshold.dim() == x.dim()
    thresholds = threshold.expand_as(x) if per_step else None
    v = x.new_zeros(x.shape[1:]) if v0 is None else v0
    spikes, charges = [], []
    for t in range(x.shape[0]):
        charges.append(neuron["decay"] * v + x[t])
        step = dict(neuron, threshold=thresholds[t : t + 1]) if per_step else neuron
        s, v = reference.lif(x[t : t + 1], v, **step)
        spikes.append(s)
    if not spikes:
        return torch.empty_like(x), v, torch.empty_like(x)
    return torch.cat(spikes), v, torch.stack(charges)


@_common.register_fake("hnn_fast::lif")
def _lif_fake(
    x,
    v0,
    decay,
    decay_value,
    threshold,
    threshold_value,
    reset,
    v_reset,
    detach_reset,
    surrogate,
    alpha,
    save_h,
):
    check_neuron(x, v0, decay, decay_value, threshold, reset, surrogate, alpha)
    spikes = torch.empty_like(x, memory_format=torch.contiguous_format)
    v_last = x.new_empty(x.shape[1:])
    h = x.new_empty(x.shape if save_h else (0,), dtype=compute_dtype(x.dtype))
    return spikes, v_last, h


@_common.register_fake("hnn_fast::lif_backward")
def _lif_backward_fake(
    grad_spikes,
    grad_v_last,
    grad_h,
    h,
    v0,
    decay,
    decay_value,
    threshold,
    threshold_value,
    reset,
    v_reset,
    detach_reset,
    surrogate,
    alpha,
    output_mask,
):
    if grad_h is not None and grad_h.shape != grad_spikes.shape:
        raise ValueError(
            f"grad_h must have the shape of grad_spikes {list(grad_spikes.shape)}, got {list(grad_h.shape)}"
        )
    need_v0, need_decay, need_threshold = output_mask
    return (
        torch.empty_like(grad_spikes, memory_format=torch.contiguous_format),
        torch.empty_like(v0) if need_v0 else _common.unwanted_grad(grad_spikes),
        torch.empty_like(decay) if need_decay else _common.unwanted_grad(grad_spikes),
        torch.empty_like(threshold) if need_threshold else _common.unwanted_grad(grad_spikes),
    )


def _lif_setup_context(ctx, inputs, output):
    (
        _x,
        v0,
        decay,
        decay_value,
        threshold,
        threshold_value,
        reset,
        v_reset,
        detach_reset,
        surrogate,
        alpha,
        _save_h,
    ) = inputs
    ctx.save_for_backward(output[2], v0, decay, threshold)
    # Unread outputs get no gradient (None, not zeros): the membrane h is read only on request, and a
    # zero-filled grad_h would add a [T, *shape] pass to every backward.
    ctx.set_materialize_grads(False)
    ctx.x_dtype = _x.dtype
    ctx.config = (decay_value, threshold_value, reset, v_reset, detach_reset, surrogate, alpha)
    needs = ctx.needs_input_grad
    ctx.output_mask = [
        v0 is not None and needs[1],
        decay is not None and needs[2],
        threshold is not None and needs[4],
    ]


def _lif_backward(ctx, grad_spikes, grad_v_last, grad_h):
    h, v0, decay, threshold = ctx.saved_tensors
    decay_value, threshold_value, reset, v_reset, detach_reset, surrogate, alpha = ctx.config
    if grad_spikes is None:
        grad_spikes = torch.zeros(h.shape, dtype=ctx.x_dtype, device=h.device)
    if grad_v_last is None:
        grad_v_last = grad_spikes.new_zeros(())
    grad_x, grad_v0, grad_decay, grad_threshold = torch.ops.hnn_fast.lif_backward(
        grad_spikes,
        grad_v_last,
        grad_h,
        h,
        v0,
        decay,
        decay_value,
        threshold,
        threshold_value,
        reset,
        v_reset,
        detach_reset,
        surrogate,
        alpha,
        ctx.output_mask,
    )
    need_v0, need_decay, need_threshold = ctx.output_mask
    return (
        grad_x,
        grad_v0 if need_v0 else None,
        grad_decay if need_decay else None,
        None,
        grad_threshold if need_threshold else None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    )


_common.register_autograd("hnn_fast::lif", _lif_backward, setup_context=_lif_setup_context)
forbid_double_backward("lif_backward", "lif")
