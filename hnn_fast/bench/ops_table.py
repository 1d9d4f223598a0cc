"""The fused ops the suite times, one entry each. A new op joins the benchmark by adding its entry to
OPS: how to build its inputs from a [T, *shape] size, its fused and reference functions, and the
bytes it must move at least (what its fraction of copy bandwidth is computed from)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from .. import ops, options, reference

FORWARD = "forward"
FORWARD_BACKWARD = "forward+backward"


@dataclass(frozen=True)
class Target:
    """A figure the op is meant to reach, checked on every run that measures it."""

    mode: str
    size: str
    metric: (
        str  # a key of the op's result: speedup_vs_reference, speedup_vs_compiled, copy_bandwidth_fraction
    )
    at_least: float


@dataclass(frozen=True)
class OpBench:
    name: str
    group: str  # what --only selects it by
    fused: Callable
    reference: Callable
    # (size, dtype, device, generator) -> (tensors the gradient flows to, other keyword arguments)
    make_inputs: Callable[[tuple, torch.dtype, torch.device, torch.Generator], tuple[list[Tensor], dict]]
    # (size, dtype, mode) -> the least bytes any implementation must read and write
    bytes_moved: Callable[[tuple, torch.dtype, str], int]
    # the output whose gradient the forward+backward mode propagates
    primary_output: Callable[[object], Tensor] = lambda out: out
    modes: tuple[str, ...] = (FORWARD, FORWARD_BACKWARD)
    targets: tuple[Target, ...] = ()


def _itemsize(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size()


def _sequence_input(size, dtype, device, generator):
    x = torch.randn(size, generator=generator, device=device, dtype=torch.float32).to(dtype)
    return [x], {}


# The LIF parameters every LIF measurement uses: the op's defaults.
LIF_DECAY = options.DEFAULT_DECAY
LIF_THRESHOLD = options.DEFAULT_THRESHOLD


def _lif_inputs(size, dtype, device, generator):
    (x,), _ = _sequence_input(size, dtype, device, generator)
    return [x], {"decay": LIF_DECAY, "threshold": LIF_THRESHOLD}


def _lif_bytes(size, dtype, mode):
    # The saved charge h is kept in the compute dtype.
    b, h = _itemsize(dtype), _itemsize(options.compute_dtype(dtype))
    steps, neurons = math.prod(size), math.prod(size[1:])
    if mode == FORWARD:
        return steps * 2 * b + neurons * b  # read x, write spikes, write v_last
    # forward: read x, write spikes and h; backward: read grad_spikes and h, write grad_x;
    # plus v_last and its (zero) gradient, one value per neuron
    return steps * (4 * b + 2 * h) + neurons * 2 * b


def _leaky_bytes(size, dtype, mode):
    b, steps = _itemsize(dtype), math.prod(size)
    # forward: read x, write v; backward (float decay): read grad_v, write grad_x
    return steps * 2 * b * (1 if mode == FORWARD else 2)


def _hu_window_length(size) -> int:
    return min(8, size[0])  # non-overlapping windows of 8 steps, fewer when T is shorter


def _spike_input(size, dtype, device, generator):
    spikes = torch.rand(size, generator=generator, device=device) < 0.2
    return [spikes.to(dtype)], {"window": _hu_window_length(size), "kernel": "mean"}


def _hu_window_bytes(size, dtype, mode):
    b, neurons = _itemsize(dtype), math.prod(size[1:])
    window = _hu_window_length(size)
    # read every step, write one value per window
    steps = size[0] + options.window_count(size[0], window, window, options.DEFAULT_DROP_LAST)
    return steps * neurons * b * (1 if mode == FORWARD else 2)  # backward: read grad_y, write grad_x


def _encode_input(size, dtype, device, generator):
    a = torch.randn(size[1:], generator=generator, device=device, dtype=torch.float32).to(dtype)
    return [a], {"T": size[0], "mode": "rate", "nonlinearity": "sigmoid"}


def _hu_encode_bytes(size, dtype, mode):
    b, steps, neurons = _itemsize(dtype), math.prod(size), math.prod(size[1:])
    if mode == FORWARD:
        return (steps + neurons) * b  # read a, write spikes
    return (2 * steps + 3 * neurons) * b  # backward: read grad_spikes and a, write grad_a


LIF = OpBench(
    name="lif",
    group="lif",
    fused=ops.lif,
    reference=reference.lif,
    make_inputs=_lif_inputs,
    bytes_moved=_lif_bytes,
    primary_output=lambda out: out[0],
    targets=(
        Target(FORWARD_BACKWARD, "in-cache", "speedup_vs_reference", 15.0),
        Target(FORWARD_BACKWARD, "in-cache", "speedup_vs_compiled", 5.0),
        Target(FORWARD_BACKWARD, "out-of-cache", "copy_bandwidth_fraction", 0.5),
    ),
)

# lif_recurrent has a group of its own, at sizes of its own: hnn_fast/bench/recurrent.py.
OPS: list[OpBench] = [
    LIF,
    OpBench(
        name="leaky_integrate",
        group="leaky",
        fused=ops.leaky_integrate,
        reference=reference.leaky_integrate,
        make_inputs=_sequence_input,
        bytes_moved=_leaky_bytes,
    ),
    OpBench(
        name="hu_window",
        group="hu",
        fused=ops.hu_window,
        reference=reference.hu_window,
        make_inputs=_spike_input,
        bytes_moved=_hu_window_bytes,
    ),
    OpBench(
        name="hu_encode",
        group="hu",
        fused=ops.hu_encode,
        reference=reference.hu_encode,
        make_inputs=_encode_input,
        bytes_moved=_hu_encode_bytes,
    ),
]
