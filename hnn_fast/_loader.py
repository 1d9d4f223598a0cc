"""Loads the compiled parts of hnn_fast: the build-info module `_C`, then the op library."""

import os

import torch

try:
    from . import _C
except ImportError as error:  # pragma: no cover - depends on how the package was installed
    raise ImportError(
        "hnn_fast's compiled extension (hnn_fast._C) is missing. Install the package "
        "(`pip install --no-build-isolation .` or `make build`); importing from the source tree "
        "without building does not work."
    ) from error

if _C.torch_version != torch.__version__:
    raise ImportError(
        f"hnn_fast was built against torch {_C.torch_version}, but torch {torch.__version__} is "
        "installed. Rebuild hnn_fast against this torch: "
        "pip install --no-build-isolation --force-reinstall --no-deps ."
    )

# Next to _C, which in an editable install is not beside this file.
torch.ops.load_library(os.path.join(os.path.dirname(_C.__file__), _C.ops_library))


def build_info() -> dict:
    """What this build of hnn_fast contains: versions, backends, CUDA architectures."""
    return {
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
