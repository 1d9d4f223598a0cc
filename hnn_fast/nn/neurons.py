"""Multi-step neuron modules over the fused ops: LIF and LeakyIntegrator."""

from __future__ import annotations

import math
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


def _decay_logit(decay: float) -> float:
    # decay = sigmoid(w) keeps a learned decay inside [0, 1]; the ends map to large finite logits.
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"decay must be in [0, 1], got {decay}")
    d = min(max(decay, 1e-6), 1 - 1e-6)
    return math.log(d / (1 - d))


class _Stateful(nn.Module):
    """Membrane state kept between calls when stateful (streaming); detached, so that each call is its
    own backward graph (truncated backpropagation through time)."""

    def __init__(self, stateful: bool):
        super().__init__()
        self.stateful = stateful
        self.v: Tensor | None = None

    def reset_state(self) -> None:
        self.v = None

    def _initial_state(self, x: Tensor, v0: Tensor | None) -> Tensor | None:
        if v0 is not None:
            return v0
        if self.stateful and self.v is not None and self.v.shape == x.shape[1:]:
            return self.v.to(x.dtype)
        return None

    def _keep(self, v_last: Tensor) -> None:
        if self.stateful:
            self.v = v_last.detach()


class _DecayMixin:
    def _init_decay(self, decay: float, learn_decay: bool, param_shape: Sequence[int]) -> None:
        if learn_decay:
            self.decay_logit = nn.Parameter(torch.full(tuple(param_shape), _decay_logit(float(decay))))
        else:
            _decay_logit(float(decay))  # range check
            self.decay_logit = None
            self._decay = float(decay)

    @property
    def decay(self) -> float | Tensor:
        return torch.sigmoid(self.decay_logit) if self.decay_logit is not None else self._decay


class LIF(_DecayMixin, _Stateful):
    """Multi-step LIF neuron layer (see hnn_fast.ops.lif) on inputs [T, *shape].

    param_shape: the shape of learnable decay/threshold, broadcast against the neuron shape: () for
    one value, (C, 1, 1) per channel of [C, H, W] maps, the full neuron shape per neuron.
    A threshold given to forward() (for example from a ModulationHU, per neuron or per step)
    replaces the module's own for that call.
    """

    def __init__(
        self,
        decay: float = DEFAULT_DECAY,
        threshold: float = DEFAULT_THRESHOLD,
        *,
        param_shape: Sequence[int] = (),
        learn_decay: bool = False,
        learn_threshold: bool = False,
        reset: str = DEFAULT_RESET,
        v_reset: float = DEFAULT_V_RESET,
        detach_reset: bool = False,
        surrogate: str = DEFAULT_SURROGATE,
        alpha: float | None = None,
        stateful: bool = False,
    ):
        super().__init__(stateful)
        self._init_decay(decay, learn_decay, param_shape)
        if learn_threshold:
            self.threshold = nn.Parameter(torch.full(tuple(param_shape), float(threshold)))
        else:
            self.threshold = float(threshold)
        check_name(reset, RESETS, "reset")
        self.reset, self.v_reset, self.detach_reset = reset, float(v_reset), bool(detach_reset)
        self.surrogate = surrogate
        self.alpha = surrogate_alpha(surrogate, alpha)

    def forward(self, x: Tensor, v0: Tensor | None = None, threshold: float | Tensor | None = None) -> Tensor:
        spikes, v_last = ops.lif(
            x,
            self._initial_state(x, v0),
            decay=self.decay,
            threshold=self.threshold if threshold is None else threshold,
            reset=self.reset,
            v_reset=self.v_reset,
            detach_reset=self.detach_reset,
            surrogate=self.surrogate,
            alpha=self.alpha,
        )
        self._keep(v_last)
        return spikes

    def extra_repr(self) -> str:
        return (
            f"reset={self.reset!r}, surrogate={self.surrogate!r}, alpha={self.alpha}, "
            f"learn_decay={self.decay_logit is not None}, "
            f"learn_threshold={isinstance(self.threshold, Tensor)}, stateful={self.stateful}"
        )


class LeakyIntegrator(_DecayMixin, _Stateful):
    """Non-spiking leaky integrator v_t = decay * v_{t-1} + x_t on inputs [T, *shape]; returns every
    v_t. Serves as a readout layer whose membrane is the output."""

    def __init__(
        self,
        decay: float = DEFAULT_DECAY,
        *,
        param_shape: Sequence[int] = (),
        learn_decay: bool = False,
        stateful: bool = False,
    ):
        super().__init__(stateful)
        self._init_decay(decay, learn_decay, param_shape)

    def forward(self, x: Tensor, v0: Tensor | None = None) -> Tensor:
        v_seq = ops.leaky_integrate(x, self._initial_state(x, v0), decay=self.decay)
        if v_seq.shape[0] > 0:
            self._keep(v_seq[-1])
        return v_seq

    def extra_repr(self) -> str:
        return f"learn_decay={self.decay_logit is not None}, stateful={self.stateful}"
