"""Modules over the fused ops."""

from .neurons import LIF, LeakyIntegrator

__all__ = ["LIF", "LeakyIntegrator"]
