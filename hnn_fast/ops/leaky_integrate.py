"""hnn_fast::leaky_integrate: the Python wrapper, fake-tensor and autograd registrations.
Schema: csrc/registration.cpp; host code: csrc/leaky_integrate.cpp; kernels: csrc/cpu/, csrc/cuda/;
semantics: hnn_fast.reference.leaky_integrate."""

from __future__ import annotations

import torch
from torch import Tensor

from .. import reference
from ..options import DEFAULT_DECAY
from . import _common
from ._checks import check_neuron
from ._common import forbid_double_backward, tensor_or_value


def leaky_integrate(x: Tensor, v0: Tensor | None = None, *, decay: float | Tensor = DEFAULT_DECAY) -> Tensor:
    """Leaky integrator v_t = decay * v_{t-1} + x_t over x = [T, *shape]; returns all v_t, [T, *shape].

    decay: a float in [0, 1] or a tensor broadcastable to shape. Gradients flow to x, v0 and a tensor
    decay. It serves non-spiking readout neurons and the exponential kernel of hybrid units.
    """
    if _common.get_backend() == "reference":
        return reference.leaky_integrate(x, v0, decay=decay)
    decay_tensor, decay_value = tensor_or_value(decay, "decay", 0.0)
    return torch.ops.hnn_fast.leaky_integrate(x, v0, decay_tensor, decay_value)


@_common.register_fake("hnn_fast::leaky_integrate")
def _leaky_integrate_fake(x, v0, decay, decay_value):
    check_neuron(x, v0, decay, decay_value)
    return torch.empty_like(x, memory_format=torch.contiguous_format)


@_common.register_fake("hnn_fast::leaky_integrate_backward")
def _leaky_integrate_backward_fake(grad_v_seq, v_seq, v0, decay, decay_value, output_mask):
    need_v0, need_decay = output_mask
    return (
        torch.empty_like(grad_v_seq, memory_format=torch.contiguous_format),
        torch.empty_like(v0) if need_v0 else _common.unwanted_grad(grad_v_seq),
        torch.empty_like(decay) if need_decay else _common.unwanted_grad(grad_v_seq),
    )


def _leaky_integrate_setup_context(ctx, inputs, output):
    _x, v0, decay, decay_value = inputs
    ctx.save_for_backward(output, v0, decay)
    ctx.decay_value = decay_value
    needs = ctx.needs_input_grad
    ctx.output_mask = [v0 is not None and needs[1], decay is not None and needs[2]]


def _leaky_integrate_backward(ctx, grad_v_seq):
    v_seq, v0, decay = ctx.saved_tensors
    grad_x, grad_v0, grad_decay = torch.ops.hnn_fast.leaky_integrate_backward(
        grad_v_seq, v_seq, v0, decay, ctx.decay_value, ctx.output_mask
    )
    need_v0, need_decay = ctx.output_mask
    return grad_x, grad_v0 if need_v0 else None, grad_decay if need_decay else None, None


_common.register_autograd(
    "hnn_fast::leaky_integrate", _leaky_integrate_backward, setup_context=_leaky_integrate_setup_context
)
forbid_double_backward("leaky_integrate_backward", "leaky_integrate")
