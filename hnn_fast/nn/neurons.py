"""Neuron modules over the fused ops: LIF and LeakyIntegrator, multi-step or single-step (state.py)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .. import ops
from ..options import (
    DEFAULT_DECAY,
    DEFAULT_RESET,
    DEFAULT_SURROGATE,
    DEFAULT_THRESHOLD,
    DEFAULT_V_RESET,
    RESETS,
    check_name,
    surrogate_alpha,
)
from .state import StatefulModule, check_bool


def _check_parameter(value, argument: str, valid, expected: str) -> None:
    """A float or a tensor whose every value passes `valid`; the errors name the argument."""
    if not isinstance(value, Tensor) and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise TypeError(f"{argument} must be a float or a tensor, got {type(value).__name__}")
    values = value.detach() if isinstance(value, Tensor) else torch.tensor(float(value))
    if values.numel() and not bool(valid(values).all()):
        raise ValueError(
            f"{argument} must be {expected}, got values in [{values.min().item()}, {values.max().item()}]"
        )


def _check_decay(decay: float | Tensor) -> None:
    _check_parameter(decay, "decay", lambda d: (d >= 0) & (d <= 1), "in [0, 1]")


def _check_threshold(threshold: float | Tensor) -> None:
    _check_parameter(threshold, "threshold", lambda th: th > 0, "> 0")


def _decay_logit(decay: Tensor) -> Tensor:
    # decay = sigmoid(w) keeps a learned decay inside [0, 1]; the ends map to large finite logits.
    d = decay.clamp(1e-6, 1 - 1e-6)
    return torch.log(d / (1 - d))


def _describe(value: float | Tensor) -> str:
    if isinstance(value, nn.Parameter):
        return f"learnable {tuple(value.shape)}"
    if isinstance(value, Tensor):
        return f"tensor {tuple(value.shape)}"
    return repr(value)


class _Neuron(StatefulModule):
    """What LIF and LeakyIntegrator share: the decay (a float, a fixed tensor, or learnable as
    sigmoid(decay_logit) over param_shape) and the membrane state "v"."""

    def __init__(
        self,
        decay: float | Tensor,
        learn_decay: bool,
        param_shape: Sequence[int],
        step_mode: str,
        stateful: bool | None,
    ):
        super().__init__(step_mode, stateful)
        self.register_state("v")
        _check_decay(decay)
        if check_bool(learn_decay, "learn_decay"):
            init = torch.as_tensor(decay, dtype=torch.float32).detach()
            shape = tuple(param_shape) if not isinstance(decay, Tensor) else init.shape
            self.decay_logit = nn.Parameter(_decay_logit(init).expand(shape).clone())
        else:
            self.decay_logit = None
            if isinstance(decay, Tensor):
                self.register_buffer("fixed_decay", decay.detach().clone())
            else:
                self.fixed_decay = float(decay)

    @property
    def decay(self) -> float | Tensor:
        return torch.sigmoid(self.decay_logit) if self.decay_logit is not None else self.fixed_decay

    def call_decay(self, decay: Tensor | None) -> float | Tensor:
        # A decay given per call (modulation) is clamped into [0, 1] rather than checked: a check would
        # read the tensor back on every call and break torch.compile(fullgraph=True).
        return self.decay if decay is None else decay.clamp(0.0, 1.0)

    def neuron_repr(self) -> str:
        decay = _describe(self.decay_logit) if self.decay_logit is not None else _describe(self.fixed_decay)
        return f"decay={decay}, {super().extra_repr()}"


class LIF(_Neuron):
    """LIF neuron layer (hnn_fast.ops.lif): step_mode="m" takes [T, *shape], "s" one step [*shape].

    decay: a float or a tensor in [0, 1], checked here. threshold: a float or a tensor > 0, checked
    here. param_shape: the shape of a learnable decay/threshold, broadcast against the neuron shape: ()
    for one value, (C, 1, 1) per channel of [C, H, W] maps, the full neuron shape per neuron.
    A threshold or decay given to forward() (for example from a ModulationHU, per neuron and sample;
    a threshold may also be per step) replaces the module's own for that call; such a decay is clamped
    into [0, 1], such a threshold taken as given.
    record_membrane=True keeps the charge h_t = decay v_{t-1} + x_t of the last call (before the reset,
    as the fused kernel computes it; ops.lif(return_membrane=True)) in `self.membrane` ([T, *shape], or
    [*shape] in single-step mode), in the graph: a loss on it backpropagates like one on the spikes
    (detach it to only record).
    """

    def __init__(
        self,
        decay: float | Tensor = DEFAULT_DECAY,
        threshold: float | Tensor = DEFAULT_THRESHOLD,
        *,
        param_shape: Sequence[int] = (),
        learn_decay: bool = False,
        learn_threshold: bool = False,
        reset: str = DEFAULT_RESET,
        v_reset: float = DEFAULT_V_RESET,
        detach_reset: bool = False,
        surrogate: str = DEFAULT_SURROGATE,
        alpha: float | None = None,
        step_mode: str = "m",
        stateful: bool | None = None,
        record_membrane: bool = False,
    ):
        super().__init__(decay, learn_decay, param_shape, step_mode, stateful)
        _check_threshold(threshold)
        if check_bool(learn_threshold, "learn_threshold"):
            init = torch.as_tensor(threshold, dtype=torch.float32).detach()
            shape = tuple(param_shape) if not isinstance(threshold, Tensor) else init.shape
            self.threshold = nn.Parameter(init.expand(shape).clone())
        elif isinstance(threshold, Tensor):
            self.register_buffer("threshold", threshold.detach().clone())
        else:
            self.threshold = float(threshold)
        check_name(reset, RESETS, "reset")
        self.reset, self.v_reset = reset, float(v_reset)
        self.detach_reset = check_bool(detach_reset, "detach_reset")
        self.surrogate = surrogate
        self.alpha = surrogate_alpha(surrogate, alpha)
        self.record_membrane = check_bool(record_membrane, "record_membrane")
        self.membrane: Tensor | None = None

    def forward(
        self,
        x: Tensor,
        v0: Tensor | None = None,
        threshold: float | Tensor | None = None,
        decay: Tensor | None = None,
    ) -> Tensor:
        x = self.as_multistep(x)
        args = dict(
            decay=self.call_decay(decay),
            threshold=self.threshold if threshold is None else threshold,
            reset=self.reset,
            v_reset=self.v_reset,
            detach_reset=self.detach_reset,
            surrogate=self.surrogate,
            alpha=self.alpha,
        )
        v0 = v0 if v0 is not None else self.initial_state("v", x)
        if self.record_membrane:
            spikes, v_last, h = ops.lif(x, v0, **args, return_membrane=True)
            self.membrane = self.from_multistep(h)
        else:
            spikes, v_last = ops.lif(x, v0, **args)
        self.keep_state("v", v_last)
        return self.from_multistep(spikes)

    def extra_repr(self) -> str:
        return (
            f"{self.neuron_repr()}, threshold={_describe(self.threshold)}, reset={self.reset!r}, "
            f"v_reset={self.v_reset}, detach_reset={self.detach_reset}, surrogate={self.surrogate!r}, "
            f"alpha={self.alpha}, record_membrane={self.record_membrane}"
        )


class LeakyIntegrator(_Neuron):
    """Non-spiking leaky integrator v_t = decay * v_{t-1} + x_t: step_mode="m" takes [T, *shape] and
    returns every v_t, "s" takes one step [*shape] and returns v_t. Its output is its membrane, so a
    readout needs no recording. decay as for LIF."""

    def __init__(
        self,
        decay: float | Tensor = DEFAULT_DECAY,
        *,
        param_shape: Sequence[int] = (),
        learn_decay: bool = False,
        step_mode: str = "m",
        stateful: bool | None = None,
    ):
        super().__init__(decay, learn_decay, param_shape, step_mode, stateful)

    def forward(self, x: Tensor, v0: Tensor | None = None, decay: Tensor | None = None) -> Tensor:
        x = self.as_multistep(x)
        v0 = v0 if v0 is not None else self.initial_state("v", x)
        v_seq = ops.leaky_integrate(x, v0, decay=self.call_decay(decay))
        if v_seq.shape[0] > 0:
            self.keep_state("v", v_seq[-1])
        return self.from_multistep(v_seq)

    def extra_repr(self) -> str:
        return self.neuron_repr()
