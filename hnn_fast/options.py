"""The names the ops' string arguments accept, the ops' default parameters, and the rules the Python side
shares with the kernels, each defined once.

The C++ parsers keep the same name tables in csrc/core/options.h; tests/ops/test_options.py checks
that the two agree.
"""

from __future__ import annotations

from collections.abc import Collection

import torch
from torch import nn

# The surrogate derivatives of the spike (hnn_fast.reference.surrogate_grad, csrc/core/surrogate.h), each
# with its default alpha (width or sharpness).
SURROGATE_ALPHA = {
    "rectangle": 1.0,
    "triangle": 1.0,
    "sigmoid": 4.0,
    "atan": 2.0,
    "fast_sigmoid": 10.0,
}
RESETS = ("hard", "soft")
# hu_encode's spike codes.
ENCODE_MODES = ("rate", "poisson", "latency")
# F of a hybrid unit, by name: the functions hu_encode fuses, as the modules that compute them.
NONLINEARITIES = {
    "identity": nn.Identity,
    "sigmoid": nn.Sigmoid,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "hardtanh": nn.Hardtanh,
}
# hu_window's named kernels; a tensor of weights reaches the op as the kernel named WEIGHTS_KERNEL.
WINDOW_KERNELS = ("sum", "mean", "exp")
WEIGHTS_KERNEL = "weights"

# The defaults of the ops, the reference and the modules.
DEFAULT_DECAY = 0.5
DEFAULT_THRESHOLD = 1.0
DEFAULT_RESET = "hard"
DEFAULT_V_RESET = 0.0
DEFAULT_SURROGATE = "rectangle"
DEFAULT_WINDOW_KERNEL = "mean"
DEFAULT_DROP_LAST = True
DEFAULT_ENCODE_MODE = "rate"
DEFAULT_NONLINEARITY = "identity"


def one_of(names: Collection[str], *others: str) -> str:
    """The accepted choices as an error message lists them: "'hard' or 'soft'", "one of 'a', 'b' or
    'c'". `others` are choices that are not names ("a module"), listed last and unquoted. The C++
    parsers word their errors the same (csrc/core/options.h)."""
    choices = [repr(name) for name in names] + list(others)
    listed = choices[0] if len(choices) == 1 else f"{', '.join(choices[:-1])} or {choices[-1]}"
    return f"one of {listed}" if len(choices) > 2 else listed


def check_name(value, names: Collection[str], argument: str, *others: str) -> None:
    """A ValueError naming the argument and listing the accepted names unless value is one of them."""
    if not isinstance(value, str) or value not in names:
        raise ValueError(f"{argument} must be {one_of(names, *others)}, got {value!r}")


def surrogate_alpha(surrogate: str, alpha: float | None) -> float:
    """alpha, or the surrogate's default when None; checks the surrogate's name."""
    check_name(surrogate, SURROGATE_ALPHA, "surrogate")
    return SURROGATE_ALPHA[surrogate] if alpha is None else float(alpha)


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype the kernels compute and keep state in: fp64 for fp64 inputs, fp32 for all others."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def window_count(T, window: int, stride: int, drop_last: bool):
    """The number K of windows hu_window makes of T steps: the full windows, plus (drop_last=False) one
    zero-padded window when the last full one stops short of the end and the next one would still start
    inside the sequence (PyTorch pooling's ceil_mode rule). csrc/hu_window.cpp holds the same rule.
    Written without a branch on T, so that a symbolic T (torch.export with a dynamic time dimension)
    gets a formula instead of guards on T modulo stride; an int T gives an int."""
    full = torch.sym_max((T - window) // stride + 1, 0)
    if drop_last:
        return full
    # the partial window starts at full * stride; it exists when that start is inside the sequence and
    # the last full window (if any) ends before T
    overhang = full * stride + max(window - stride, 0) * torch.sym_min(full, 1)
    return full + torch.sym_min(torch.sym_max(T - overhang, 0), 1)
