"""Loads the compiled parts of hnn_fast: the build-info module `_C`, then the op library.

Importing hnn_fast never fails for want of them: when `_C` is missing, was built for another torch,
or its op library does not load, `_C` is None, `unavailable` says why, and the ops run on the
reference backend (hnn_fast.ops._common) after one warning. HNN_FAST_BACKEND=fused|reference picks
the backend at import; "fused" then fails at import when the kernels are unavailable.
"""

from __future__ import annotations

import os
import warnings

import torch

# What hnn_fast.ops can run on: the compiled kernels, or the loops of hnn_fast.reference.
BACKENDS = ("fused", "reference")
BUILD_HINT = (
    "build it with `make build`, or `pip install --no-build-isolation --force-reinstall --no-deps .` "
    "against the installed torch"
)


def _load():
    """(_C, None) once the op library is loaded, or (None, why not)."""
    try:
        from . import _C
    except ImportError as error:
        return None, f"its compiled extension hnn_fast._C is missing ({error})"
    if _C.torch_version != torch.__version__:
        running = torch.__version__
        return None, f"it was built against torch {_C.torch_version}, but torch {running} is installed"
    try:
        # Next to _C, which in an editable install is not beside this file.
        torch.ops.load_library(os.path.join(os.path.dirname(_C.__file__), _C.ops_library))
    except OSError as error:
        return None, f"its op library {_C.ops_library} does not load ({error})"
    return _C, None


def _requested_backend() -> str | None:
    name = os.environ.get("HNN_FAST_BACKEND") or None
    if name is not None and name not in BACKENDS:
        raise ImportError(f"HNN_FAST_BACKEND must be one of {BACKENDS} or unset, got {name!r}")
    return name


_C, unavailable = _load()
requested = _requested_backend()
if requested == "fused" and _C is None:
    raise ImportError(f"HNN_FAST_BACKEND=fused, but the kernels are unavailable: {unavailable}; {BUILD_HINT}")
if _C is None and requested is None:
    warnings.warn(
        f"hnn_fast runs on its reference backend (pure PyTorch, slow) because {unavailable}; {BUILD_HINT}. "
        "HNN_FAST_BACKEND=reference silences this warning.",
        RuntimeWarning,
        stacklevel=2,
    )
initial_backend = requested or ("fused" if _C is not None else "reference")


def build_info() -> dict:
    """What this build of hnn_fast contains (versions, backends, CUDA architectures) and which backend
    the ops run on."""
    from .ops import get_backend

    info = {"active_backend": get_backend(), "fused_unavailable_because": unavailable}
    if _C is None:
        return {**info, "torch_running": torch.__version__, "cuda_available": torch.cuda.is_available()}
    return {
        **info,
        "version": _C.version,
        "torch_built_against": _C.torch_version,
        "torch_running": torch.__version__,
        "backends": list(_C.backends),
        "cuda_version": _C.cuda_version or None,
        "cuda_architectures": list(_C.cuda_architectures),
        "cuda_available": torch.cuda.is_available(),
        "compiler": _C.compiler,
        "cpu_features": list(_C.cpu_features),
    }
