"""hnn_fast::hu_window: the Python wrapper, fake-tensor and autograd registrations.
Schema: csrc/registration.cpp; host code: csrc/hu_window.cpp; kernels: csrc/cpu/, csrc/cuda/;
semantics: hnn_fast.reference.hu_window."""

from __future__ import annotations

import numbers

import torch
from torch import Tensor

from .. import reference
from ..options import (
    DEFAULT_DROP_LAST,
    DEFAULT_WINDOW_KERNEL,
    WEIGHTS_KERNEL,
    WINDOW_KERNELS,
    check_name,
    window_count,
)
from . import _common
from ._checks import check_bool, check_decay_value, check_same_device, check_sequence
from ._common import forbid_double_backward


def hu_window(
    x: Tensor,
    window: int,
    stride: int | None = None,
    *,
    kernel: str | Tensor = DEFAULT_WINDOW_KERNEL,
    decay: float | None = None,
    drop_last: bool = DEFAULT_DROP_LAST,
) -> Tensor:
    """Spikes to real values: the window (W) and kernel (H) stages of a hybrid unit, fused.

    x is [T, *shape], time-major. Window k covers steps [k * stride, k * stride + window) (stride
    defaults to window) and y_k = sum_j w_j x_{k * stride + j}; the result is [K, *shape] in x's dtype.
    With drop_last=True, K counts the full windows (window > T is an error); with drop_last=False a last
    partial window is added, zero-padded, when the last full one stops short of the end and the next one
    starts inside the sequence (PyTorch pooling's ceil_mode rule); its "mean" still divides by window.

    kernel: "sum"; "mean"; "exp" with w_j = decay^(window - 1 - j), so the latest step weighs most
    (decay in [0, 1] required); or a tensor of weights, [window] shared or [C, window] per channel
    (C = shape[0]), which receives a gradient. The gradient to x always flows.
    """
    window, stride, kernel_name, weights, decay_value = window_arguments(window, stride, kernel, decay)
    check_bool(drop_last, "drop_last")
    if _common.get_backend() == "reference":
        return reference.hu_window(x, window, stride, kernel=kernel, decay=decay, drop_last=drop_last)
    return torch.ops.hnn_fast.hu_window(x, window, stride, kernel_name, decay_value, weights, drop_last)


# The op's int arguments are int64.
_INT64_LIMIT = 2**63


def window_arguments(window, stride, kernel, decay) -> tuple[int, int, str, Tensor | None, float]:
    """Checks hu_window's arguments; returns (window, stride, kernel name, weights, decay) for the op."""
    window, stride = _window_stride(window, stride)
    kernel_name, weights = _kernel(kernel)
    return window, stride, kernel_name, weights, _decay(kernel_name, decay)


def _window_stride(window, stride) -> tuple[int, int]:
    for name, value in (("window", window), ("stride", stride)):
        if value is not None and (not isinstance(value, numbers.Integral) or isinstance(value, bool)):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    stride = window if stride is None else stride
    for name, value in (("window", window), ("stride", stride)):
        if not 0 < value < _INT64_LIMIT:
            raise ValueError(f"{name} must be a positive number of steps below 2^63, got {value}")
    return int(window), int(stride)


def _kernel(kernel) -> tuple[str, Tensor | None]:
    if isinstance(kernel, Tensor):
        return WEIGHTS_KERNEL, kernel
    check_name(kernel, WINDOW_KERNELS, "kernel", "a tensor of weights")
    return kernel, None


def _decay(kernel_name: str, decay) -> float:
    if kernel_name != "exp":
        if decay is not None:
            raise ValueError(
                f"decay applies only to kernel='exp', got decay={decay} with kernel={kernel_name!r}"
            )
        return 0.0
    if decay is None:
        raise ValueError("kernel='exp' needs decay, a float in [0, 1]")
    if not isinstance(decay, numbers.Real) or isinstance(decay, bool):
        raise TypeError(f"decay must be a float, got {type(decay).__name__}")
    check_decay_value(decay)
    return float(decay)


def _check_window_op(x, window, stride, kernel, decay, weights) -> None:
    """The host code's checks (csrc/hu_window.cpp), for the fake kernel."""
    check_sequence(x, "x")
    for name, value in (("window", window), ("stride", stride)):
        if value <= 0:
            raise ValueError(f"{name} must be a positive number of steps, got {value}")
    check_name(kernel, (*WINDOW_KERNELS, WEIGHTS_KERNEL), "kernel")
    if kernel == "exp":
        check_decay_value(decay)
    if kernel != WEIGHTS_KERNEL:
        if weights is not None:
            raise ValueError("weights are given only with kernel='weights'")
        return
    if weights is None:
        raise ValueError("kernel='weights' needs a weights tensor")
    check_same_device(x, weights=weights)
    if not weights.dtype.is_floating_point:
        raise TypeError(f"weights must be a floating tensor, got {weights.dtype}")
    C = x.shape[1] if x.dim() >= 2 else 1
    shared = weights.dim() == 1 and weights.shape[0] == window
    per_channel = weights.dim() == 2 and x.dim() >= 2 and tuple(weights.shape) == (C, window)
    if not (shared or per_channel):
        raise ValueError(
            f"weights must have shape [window] = [{window}] or [C, window] = [{C}, {window}] "
            f"(C = x.shape[1], the channels), got {list(weights.shape)}"
        )


@_common.register_fake("hnn_fast::hu_window")
def _hu_window_fake(x, window, stride, kernel, decay, weights, drop_last):
    _check_window_op(x, window, stride, kernel, decay, weights)
    if drop_last and window > x.shape[0]:
        raise ValueError(
            f"window ({window}) must not exceed the length T ({x.shape[0]}) of x when drop_last=True"
        )
    K = window_count(x.shape[0], window, stride, drop_last)
    return x.new_empty((K, *x.shape[1:]))


@_common.register_fake("hnn_fast::hu_window_backward")
def _hu_window_backward_fake(grad_y, x, T, window, stride, kernel, decay, weights, output_mask):
    need_x, need_weights = output_mask
    return (
        grad_y.new_empty((T, *grad_y.shape[1:])) if need_x else _common.unwanted_grad(grad_y),
        weights.new_empty(weights.shape) if need_weights else _common.unwanted_grad(grad_y),
    )


def _hu_window_setup_context(ctx, inputs, output):
    x, window, stride, kernel, decay, weights, _drop_last = inputs
    needs = ctx.needs_input_grad
    ctx.output_mask = [needs[0], weights is not None and needs[5]]
    # x is kept only for the weights gradient.
    ctx.save_for_backward(x if ctx.output_mask[1] else None, weights)
    ctx.config = (x.shape[0], window, stride, kernel, decay)


def _hu_window_backward(ctx, grad_y):
    x, weights = ctx.saved_tensors
    T, window, stride, kernel, decay = ctx.config
    grad_x, grad_weights = torch.ops.hnn_fast.hu_window_backward(
        grad_y, x, T, window, stride, kernel, decay, weights, ctx.output_mask
    )
    need_x, need_weights = ctx.output_mask
    return (grad_x if need_x else None, None, None, None, None, grad_weights if need_weights else None, None)


_common.register_autograd("hnn_fast::hu_window", _hu_window_backward, setup_context=_hu_window_setup_context)
forbid_double_backward("hu_window_backward", "hu_window")
