"""Modules over the fused ops."""

from .hybrid_units import (
    A2SHU,
    S2AHU,
    Binarize,
    Encoder,
    HybridUnit,
    LearnableSampler,
    ModulationHU,
    ScaledSigmoid,
    WindowFilter,
)
from .neurons import LIF, LeakyIntegrator

__all__ = [
    "A2SHU",
    "LIF",
    "S2AHU",
    "Binarize",
    "Encoder",
    "HybridUnit",
    "LeakyIntegrator",
    "LearnableSampler",
    "ModulationHU",
    "ScaledSigmoid",
    "WindowFilter",
]
