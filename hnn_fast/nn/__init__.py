"""Modules over the fused ops."""

from .hybrid_units import (A2SHU, S2AHU, Binarize, Encoder, HybridUnit, LearnableSampler, ModulationHU,
                           ScaledSigmoid, WindowFilter)
from .neurons import LIF, LeakyIntegrator

__all__ = ["A2SHU", "Binarize", "Encoder", "HybridUnit", "LIF", "LearnableSampler", "LeakyIntegrator",
           "ModulationHU", "S2AHU", "ScaledSigmoid", "WindowFilter"]
