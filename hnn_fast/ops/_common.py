"""What every op wrapper shares: the backend switch and argument helpers."""

from __future__ import annotations

import numbers

import torch
from torch import Tensor

from .. import _loader  # noqa: F401  (loads the op library)

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


def tensor_or_value(value, name: str, default: float) -> tuple[Tensor | None, float]:
    """Split a float-or-tensor parameter into the op's (Tensor?, float) pair."""
    if isinstance(value, Tensor):
        return value, default
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return None, float(value)
    raise TypeError(f"{name} must be a float or a tensor, got {type(value).__name__}")


def needs_grad(*tensors) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def check_same_device(x: Tensor, **tensors: Tensor | None) -> None:
    """Fake (meta) kernels run instead of the real ones whenever any argument is a meta tensor, so they
    repeat the real kernels' device check rather than silently accept a mix."""
    for name, t in tensors.items():
        if t is not None and t.device != x.device:
            raise ValueError(f"{name} must be on the same device as x ({x.device}), got {t.device}")
