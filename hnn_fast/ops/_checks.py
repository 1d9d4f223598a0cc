"""The real kernels' argument checks (csrc/arguments.cpp and each op's host code), repeated by the fake
kernels: those run instead of the real ones whenever an argument is a meta or fake tensor, and a fake
that accepts what the real kernel rejects lets a traced or meta-built model compute garbage. The
messages are the C++ ones."""

from __future__ import annotations

from torch import Tensor

from ..options import RESETS, SURROGATE_ALPHA, check_name
from ._common import check_same_device

_FLOATING = "a floating tensor (float32, float64, bfloat16 or float16)"


def check_bool(value, name: str) -> bool:
    """A bool argument; the string "False" (truthy) or an int is a mistake, not a choice."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool (True or False), got {type(value).__name__} {value!r}")
    return value


def check_sequence(x: Tensor, name: str) -> None:
    if x.dim() < 1:
        raise ValueError(f"{name} must be a sequence [T, *shape] of rank >= 1, got a {x.dim()}-d tensor")
    check_floating(x, name)


def check_floating(t: Tensor, name: str) -> None:
    if not t.dtype.is_floating_point:
        raise TypeError(f"{name} must be {_FLOATING}, got {t.dtype}")


def _broadcasts_to(sizes, target) -> bool:
    if len(sizes) > len(target):
        return False
    offset = len(target) - len(sizes)
    return all(s == 1 or s == target[offset + i] for i, s in enumerate(sizes))


def check_parameter(p: Tensor | None, name: str, x: Tensor) -> None:
    """A per-neuron tensor parameter (decay, threshold): on x's device, floating, broadcastable to the
    neuron shape."""
    if p is None:
        return
    check_same_device(x, **{name: p})
    if not p.dtype.is_floating_point:
        raise TypeError(f"{name} must be a float or a floating tensor, got {p.dtype}")
    shape = tuple(x.shape[1:])
    if not _broadcasts_to(tuple(p.shape), shape):
        raise ValueError(
            f"{name} of shape {list(p.shape)} does not broadcast to the neuron shape {list(shape)}"
        )


def check_threshold(threshold: Tensor | None, x: Tensor) -> None:
    """Broadcastable to the neuron shape or, with x's rank, to [T, *shape] (one per step)."""
    if threshold is None or threshold.dim() < x.dim():
        check_parameter(threshold, "threshold", x)
        return
    check_same_device(x, threshold=threshold)
    if not threshold.dtype.is_floating_point:
        raise TypeError(f"threshold must be a float or a floating tensor, got {threshold.dtype}")
    if threshold.dim() != x.dim() or not _broadcasts_to(tuple(threshold.shape), tuple(x.shape)):
        raise ValueError(
            f"threshold of shape {list(threshold.shape)} must broadcast to the neuron shape "
            f"{list(x.shape[1:])} or, per step, to x's shape {list(x.shape)}"
        )


def check_initial_state(v0: Tensor | None, x: Tensor) -> None:
    if v0 is None:
        return
    check_same_device(x, v0=v0)
    if not v0.dtype.is_floating_point:
        raise TypeError(f"v0 must be a float or a floating tensor, got {v0.dtype}")
    if tuple(v0.shape) != tuple(x.shape[1:]):
        raise ValueError(f"v0 must have the neuron shape {list(x.shape[1:])} of x, got {list(v0.shape)}")


def check_decay_value(decay: float) -> None:
    if not 0.0 <= decay <= 1.0:  # NaN fails both comparisons
        raise ValueError(f"decay must be in [0, 1], got {decay}")


def check_alpha(alpha: float) -> None:
    if not alpha > 0.0:
        raise ValueError(f"alpha (the surrogate's width or sharpness) must be positive, got {alpha}")


def check_neuron(
    x: Tensor,
    v0: Tensor | None,
    decay: Tensor | None,
    decay_value: float,
    threshold: Tensor | None = None,
    reset: str | None = None,
    surrogate: str | None = None,
    alpha: float | None = None,
) -> None:
    """What the lif and leaky_integrate host code checks of x and the neuron's parameters."""
    check_sequence(x, "x")
    if surrogate is not None:
        check_name(surrogate, SURROGATE_ALPHA, "surrogate")
    if alpha is not None:
        check_alpha(alpha)
    if decay is None:
        check_decay_value(decay_value)
    check_initial_state(v0, x)
    check_parameter(decay, "decay", x)
    check_threshold(threshold, x)
    if reset is not None:
        check_name(reset, RESETS, "reset")
