"""What every op wrapper shares: the backend switch and argument helpers."""

from __future__ import annotations

import numbers

import torch
from torch import Tensor

from .. import _loader  # loads the op library

_backend = _loader.initial_backend


def set_backend(name: str) -> None:
    """Run hnn_fast.ops (and every module and model built on them) on the fused kernels ("fused",
    the default when they are built) or on the pure-PyTorch loops of hnn_fast.reference
    ("reference")."""
    global _backend
    if name not in _loader.BACKENDS:
        raise ValueError(f"backend must be one of {_loader.BACKENDS}, got {name!r}")
    if name == "fused" and _loader._C is None:
        raise RuntimeError(f"the fused backend is unavailable: {_loader.unavailable}; {_loader.BUILD_HINT}")
    _backend = name


def get_backend() -> str:
    return _backend


def tensor_or_value(value, name: str, default: float) -> tuple[Tensor | None, float]:
    """Split a float-or-tensor parameter into the op's (Tensor?, float) pair."""
    if isinstance(value, Tensor):
        return value, default
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return None, float(value)
    raise TypeError(f"{name} must be a float or a tensor, got {type(value).__name__}")


def needs_grad(*tensors) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def unwanted_grad(like: Tensor) -> Tensor:
    """What a backward op returns for a gradient nobody asked for (the C++ side's unwanted_grad): a
    fresh empty tensor each time, since the outputs of a functional op must not alias each other."""
    return like.new_empty((0,))


def check_same_device(x: Tensor, **tensors: Tensor | None) -> None:
    """Fake (meta) kernels run instead of the real ones whenever any argument is a meta tensor, so they
    repeat the real kernels' device check rather than silently accept a mix."""
    for name, t in tensors.items():
        if t is not None and t.device != x.device:
            raise ValueError(f"{name} must be on the same device as x ({x.device}), got {t.device}")


def register_fake(op: str):
    """torch.library.register_fake for an op of the library, a no-op when the library is not loaded
    (the ops then run on the reference backend only)."""
    if _loader._C is None:
        return lambda fn: fn
    return torch.library.register_fake(op)


def register_autograd(op: str, backward, *, setup_context) -> None:
    """torch.library.register_autograd, a no-op when the op library is not loaded."""
    if _loader._C is not None:
        torch.library.register_autograd(op, backward, setup_context=setup_context)


def forbid_double_backward(backward_op: str, op: str) -> None:
    """Registers an autograd formula for a backward op that raises: the backward kernels are not
    differentiable, and without a formula PyTorch would only warn and return zero second-order
    gradients (torch.autograd.grad(..., create_graph=True) of a gradient penalty, a Hessian product)."""

    def backward(ctx, *grads):
        raise RuntimeError(
            f"hnn_fast.ops.{op}: second-order gradients (differentiating its gradient, e.g. after "
            "create_graph=True) are not supported; use hnn_fast.ops.set_backend('reference') for them"
        )

    register_autograd(f"hnn_fast::{backward_op}", backward, setup_context=_no_context)


def _no_context(ctx, inputs, output) -> None:
    pass
