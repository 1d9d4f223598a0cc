"""What the build reports, and that it contains what this machine can build."""

import os
import shutil
import subprocess
import sys

import torch

import hnn_fast


def test_build_info():
    info = hnn_fast.build_info()
    assert info["version"] == hnn_fast.__version__
    assert info["torch_built_against"] == torch.__version__
    assert "cpu" in info["backends"]
    dispatch = torch._C._dispatch_dump("hnn_fast::lif")
    assert "CPU:" in dispatch
    assert ("CUDA:" in dispatch) == ("cuda" in info["backends"])


def test_cuda_kernels_built_where_possible():
    # A CUDA torch plus nvcc must give a build with the CUDA kernels (CI compiles them, though
    # nothing here can run them), unless the build was told otherwise.
    nvcc = (
        os.environ.get("CUDACXX")
        or shutil.which("nvcc")
        or ("/usr/local/cuda/bin/nvcc" if os.path.exists("/usr/local/cuda/bin/nvcc") else None)
    )
    wanted = os.environ.get("HNN_FAST_CUDA", "AUTO").upper() != "OFF"
    info = hnn_fast.build_info()
    if torch.version.cuda and nvcc and wanted:
        assert "cuda" in info["backends"]
        assert {"80-real", "90"} <= set(info["cuda_architectures"]) or os.environ.get("TORCH_CUDA_ARCH_LIST")
    else:
        print(f"no CUDA build expected here (torch CUDA {torch.version.cuda}, nvcc {nvcc})")


def test_cli_info():
    out = subprocess.run(
        [sys.executable, "-m", "hnn_fast.cli", "info"], capture_output=True, text=True, check=True
    ).stdout
    assert "torch_built_against" in out and torch.__version__ in out


def test_torch_version_mismatch_is_explained():
    code = "import torch; torch.__version__ = '1.0.0'; import hnn_fast"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0  # falls back to the reference backend, with a warning
    assert f"built against torch {torch.__version__}" in result.stderr
    assert "torch 1.0.0 is installed" in result.stderr
