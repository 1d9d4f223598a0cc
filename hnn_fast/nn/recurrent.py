"""RecurrentLIF: a layer of LIF neurons with learnable all-to-all recurrent synapses, over the fused
hnn_fast.ops.lif_recurrent, multi-step or single-step (state.py)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .. import ops
from ..options import DEFAULT_DECAY, DEFAULT_THRESHOLD
from .neurons import LIF


class RecurrentLIF(LIF):
    """features LIF neurons whose spikes feed back through a learnable weight [features, features]
    (weight[i, j]: from neuron i to neuron j): h_t = decay v_{t-1} + x_t + s_{t-1} @ weight.

    step_mode="m" takes x = [T, *batch, features], "s" one step [*batch, features]; the state is the
    membrane "v" and the last spikes "s". The neuron options (decay, threshold, learnable ones,
    reset, surrogate, ...) are LIF's; a tensor decay or threshold broadcasts against [B, features]
    with the batch dimensions flattened into B. The weight starts uniform in +-weight_scale/sqrt(features)
    (nn.Linear's range for weight_scale=1).
    """

    def __init__(
        self,
        features: int,
        decay: float | Tensor = DEFAULT_DECAY,
        threshold: float | Tensor = DEFAULT_THRESHOLD,
        *,
        weight_scale: float = 1.0,
        **neuron_options,
    ):
        super().__init__(decay, threshold, **neuron_options)
        if self.record_membrane:
            raise ValueError("RecurrentLIF does not record the membrane (record_membrane=True)")
        if isinstance(features, bool) or not isinstance(features, int) or features < 1:
            raise ValueError(f"features must be a positive int, got {features!r}")
        self.features = features
        bound = float(weight_scale) / math.sqrt(features)
        self.weight = nn.Parameter(torch.empty(features, features).uniform_(-bound, bound))
        self.register_state("s")

    def forward(self, x: Tensor, v0: Tensor | None = None, s0: Tensor | None = None) -> Tensor:
        x = self.as_multistep(x)
        if x.dim() < 3 or x.shape[-1] != self.features:
            raise ValueError(
                f"RecurrentLIF({self.features}) takes x of shape "
                f"{'[*batch, features]' if self.step_mode == 's' else '[T, *batch, features]'} with "
                f"features = {self.features}, got {tuple(self.from_multistep(x).shape)}"
            )
        v0 = v0 if v0 is not None else self.initial_state("v", x)
        s0 = s0 if s0 is not None else self.initial_state("s", x)
        flat = lambda t: None if t is None else t.reshape(-1, self.features)  # noqa: E731
        spikes, v_last = ops.lif_recurrent(
            x.reshape(x.shape[0], -1, self.features),
            self.weight.to(x.dtype),
            flat(v0),
            flat(s0),
            decay=self.decay,
            threshold=self.threshold,
            reset=self.reset,
            v_reset=self.v_reset,
            detach_reset=self.detach_reset,
            surrogate=self.surrogate,
            alpha=self.alpha,
        )
        spikes = spikes.view(x.shape)
        self.keep_state("v", v_last.view(x.shape[1:]))
        self.keep_state("s", spikes[-1] if x.shape[0] else s0)
        return self.from_multistep(spikes)

    def extra_repr(self) -> str:
        return f"features={self.features}, {super().extra_repr()}"
