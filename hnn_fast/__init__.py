"""hnn_fast: fused CPU and CUDA kernels for hybrid neural networks in PyTorch."""

from . import nn, ops, options, reference
from ._loader import _C, build_info
from .ops import get_backend, set_backend

__version__ = _C.version

__all__ = ["__version__", "build_info", "get_backend", "nn", "ops", "options", "reference", "set_backend"]
