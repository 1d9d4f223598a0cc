"""hnn_fast::lif_recurrent: the Python wrapper, fake-tensor and autograd registrations.
Schema: csrc/registration.cpp; host code: csrc/lif_recurrent.cpp; kernels: csrc/cpu/, csrc/cuda/;
semantics: hnn_fast.reference.lif_recurrent."""

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
from ._checks import check_bool, check_floating, check_neuron
from ._common import check_same_device, forbid_double_backward, needs_grad, tensor_or_value


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
    """Multi-step LIF neurons with all-to-all recurrent synapses.

    x is the input current [T, B, N]; weight is [N, N] (shared by the batch) or [B, N, N] (one graph
    per sample), in x's dtype; weight[i, j] is the synapse from neuron i to neuron j. For t = 1..T:
    h_t = decay * v_{t-1} + x_t + s_{t-1} @ weight, with s_0 = s0 (or zeros); then spike and reset
    exactly as hnn_fast.ops.lif, with the same decay, threshold, reset, surrogate and detach_reset
    options (decay and threshold broadcast to [B, N]; a threshold of rank 3 is per step). Gradients
    (backpropagation through time) reach x, weight, v0, s0, decay and threshold. Returns (spikes
    [T, B, N] in x's dtype, the last membrane v_T [B, N]).
    """
    check_bool(detach_reset, "detach_reset")
    if _common.get_backend() == "reference":
        return reference.lif_recurrent(
            x,
            weight,
            v0,
            s0,
            decay=decay,
            threshold=threshold,
            reset=reset,
            v_reset=v_reset,
            detach_reset=detach_reset,
            surrogate=surrogate,
            alpha=alpha,
        )
    alpha = surrogate_alpha(surrogate, alpha)
    decay_tensor, decay_value = tensor_or_value(decay, "decay", 0.0)
    threshold_tensor, threshold_value = tensor_or_value(threshold, "threshold", 0.0)
    save_h = needs_grad(x, weight, v0, s0, decay_tensor, threshold_tensor)
    spikes, v_last, _ = torch.ops.hnn_fast.lif_recurrent(
        x,
        weight,
        v0,
        s0,
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
    return spikes, v_last


def _check_recurrent(x: Tensor, weight: Tensor, s0: Tensor | None) -> None:
    """What csrc/lif_recurrent.cpp checks beyond check_neuron, with its messages."""
    if x.dim() != 3:
        raise ValueError(f"x must be [T, B, N] (steps, samples, neurons), got a {x.dim()}-d tensor")
    check_same_device(x, weight=weight, s0=s0)
    if weight.dtype != x.dtype:
        raise TypeError(f"weight must have x's dtype {x.dtype}, got {weight.dtype}")
    _, B, N = x.shape
    if tuple(weight.shape) not in ((N, N), (B, N, N)):
        raise ValueError(
            f"weight must be [N, N] = [{N}, {N}] (shared) or [B, N, N] = [{B}, {N}, {N}] (one per sample), "
            f"got {list(weight.shape)}"
        )
    if s0 is not None:
        check_floating(s0, "s0")
        if tuple(s0.shape) != (B, N):
            raise ValueError(f"s0 must be [B, N] = [{B}, {N}], got {list(s0.shape)}")


@_common.register_fake("hnn_fast::lif_recurrent")
def _lif_recurrent_fake(
    x,
    weight,
    v0,
    s0,
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
    _check_recurrent(x, weight, s0)
    spikes = torch.empty_like(x, memory_format=torch.contiguous_format)
    v_last = x.new_empty(x.shape[1:])
    h = x.new_empty(x.shape if save_h else (0,), dtype=compute_dtype(x.dtype))
    return spikes, v_last, h


@_common.register_fake("hnn_fast::lif_recurrent_backward")
def _lif_recurrent_backward_fake(
    grad_spikes,
    grad_v_last,
    h,
    spikes,
    weight,
    v0,
    s0,
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
    wanted = zip(output_mask, (weight, v0, s0, decay, threshold))
    return (
        torch.empty_like(grad_spikes, memory_format=torch.contiguous_format),
        *(
            torch.empty_like(t, memory_format=torch.contiguous_format)
            if need
            else _common.unwanted_grad(grad_spikes)
            for need, t in wanted
        ),
    )


# The tensor inputs that can have a gradient, by position in the schema.
_GRAD_INPUTS = {"weight": 1, "v0": 2, "s0": 3, "decay": 4, "threshold": 6}


def _lif_recurrent_setup_context(ctx, inputs, output):
    weight, v0, s0, decay = inputs[1:5]
    threshold = inputs[6]
    ctx.save_for_backward(output[2], output[0], weight, v0, s0, decay, threshold)
    # The charge h is an output for the backward only: a zero-filled gradient for it would add a
    # [T, B, N] pass to every backward, so unread outputs get None.
    ctx.set_materialize_grads(False)
    ctx.config = (inputs[5], inputs[7], *inputs[8:13])
    ctx.output_mask = [inputs[i] is not None and ctx.needs_input_grad[i] for i in _GRAD_INPUTS.values()]


def _lif_recurrent_backward(ctx, grad_spikes, grad_v_last, _grad_h):
    h, spikes, weight, v0, s0, decay, threshold = ctx.saved_tensors
    decay_value, threshold_value, reset, v_reset, detach_reset, surrogate, alpha = ctx.config
    if grad_spikes is None:
        grad_spikes = torch.zeros_like(spikes)
    if grad_v_last is None:
        grad_v_last = grad_spikes.new_zeros(())
    grad_x, *grads = torch.ops.hnn_fast.lif_recurrent_backward(
        grad_spikes,
        grad_v_last,
        h,
        spikes,
        weight,
        v0,
        s0,
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
    result = [grad_x] + [None] * 13
    for position, need, grad in zip(_GRAD_INPUTS.values(), ctx.output_mask, grads):
        result[position] = grad if need else None
    return tuple(result)


_common.register_autograd(
    "hnn_fast::lif_recurrent", _lif_recurrent_backward, setup_context=_lif_recurrent_setup_context
)
forbid_double_backward("lif_recurrent_backward", "lif_recurrent")
