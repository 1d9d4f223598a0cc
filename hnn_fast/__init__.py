"""hnn_fast: fused CPU and CUDA kernels for hybrid neural networks in PyTorch."""

from importlib.metadata import version as _version

from . import nn, ops, options, reference
from ._loader import _C, build_info
from .ops import get_backend, set_backend

# The build's own version; the installed metadata's when the extension is not built.
__version__ = _C.version if _C is not None else _version("hnn_fast")

__all__ = ["__version__", "build_info", "get_backend", "nn", "ops", "options", "reference", "set_backend"]
