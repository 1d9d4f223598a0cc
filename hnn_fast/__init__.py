"""hnn_fast: fused CPU and CUDA kernels for hybrid neural networks in PyTorch."""

from ._loader import build_info
from ._loader import _C
from . import ops, reference
from .ops import get_backend, set_backend
from . import nn

__version__ = _C.version

__all__ = ["build_info", "get_backend", "nn", "ops", "reference", "set_backend", "__version__"]
