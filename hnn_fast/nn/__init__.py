"""Modules over the fused ops: neurons, hybrid units, time-distributed layers, state handling."""

from .hybrid_units import (
    A2SHU,
    S2AHU,
    Binarize,
    Encoder,
    HybridUnit,
    LatencyDecoder,
    LearnableSampler,
    ModulationHU,
    ScaledSigmoid,
    WindowFilter,
)
from .layers import TimeDistributed, time_distributed
from .learning import fit, hu_parameters, network_parameters, set_trainable
from .neurons import LIF, LeakyIntegrator
from .recurrent import RecurrentLIF
from .state import StatefulModule, ddp_ignore_states, detach_states, reset_states

__all__ = [
    "A2SHU",
    "LIF",
    "S2AHU",
    "Binarize",
    "Encoder",
    "HybridUnit",
    "LatencyDecoder",
    "LeakyIntegrator",
    "LearnableSampler",
    "ModulationHU",
    "RecurrentLIF",
    "ScaledSigmoid",
    "StatefulModule",
    "TimeDistributed",
    "WindowFilter",
    "ddp_ignore_states",
    "detach_states",
    "fit",
    "hu_parameters",
    "network_parameters",
    "reset_states",
    "set_trainable",
    "time_distributed",
]
