"""What the tests share: one tolerance per dtype and comparisons that print the largest difference
before they assert (shown with -s, and in the report of a failing test), for the op tests; a torchrun
launcher for the data-parallel ones."""

import os
import socket
import subprocess
import sys

import torch

# How far a fused op may be from hnn_fast.reference run in fp32 (fp64 for fp64 inputs), for values and
# for gradients alike: a few units of the dtype's rounding. Gradients and long accumulations are compared
# relative to their largest magnitude (see scale); tests that accumulate further say by how much.
TOL = {torch.float64: 1e-12, torch.float32: 1e-5, torch.bfloat16: 2e-2, torch.float16: 2e-3}


def reference_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype the reference runs in for a fused op in dtype: fp64 stays, the rest is compared to fp32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def scale(t: torch.Tensor) -> float:
    """The largest magnitude in t, at least 1: what a tolerance relative to t's size multiplies."""
    return max(1.0, t.abs().max().item()) if t.numel() else 1.0


def max_abs_diff(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return (actual.double() - expected.double()).abs().max().item() if actual.numel() else 0.0


def assert_close(
    name: str, actual: torch.Tensor, expected: torch.Tensor, *, atol: float, rtol: float = 0.0
) -> None:
    """|actual - expected| <= atol + rtol * |expected| elementwise, shape included."""
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != {expected.shape}"
    print(f"{name}: max abs diff {max_abs_diff(actual, expected):.3e}")
    torch.testing.assert_close(
        actual.to(expected.dtype), expected, atol=atol, rtol=rtol, msg=lambda m: f"{name}: {m}"
    )


def assert_equal(name: str, actual: torch.Tensor, expected: torch.Tensor) -> None:
    """Bit for bit (spikes, or outputs of the same arithmetic), shape included."""
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != {expected.shape}"
    differ = (actual.to(expected.dtype) != expected).sum().item()
    print(f"{name}: {differ} of {actual.numel()} differ, max abs diff {max_abs_diff(actual, expected):.3e}")
    assert differ == 0, f"{name}: {differ} of {actual.numel()} elements differ"


def assert_near(name: str, actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype) -> None:
    """Every element within TOL[dtype] of expected, relative to expected's largest magnitude."""
    assert_close(name, actual, expected, atol=TOL[dtype] * scale(expected))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun_train(experiment: str, out, overrides: list[str]) -> subprocess.CompletedProcess:
    """`hnn-fast train` in two gloo processes on the loopback interface (data-parallel tests)."""
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes",
        "1",
        "--nproc-per-node",
        "2",
        "--master-addr",
        "127.0.0.1",
        "--master-port",
        str(_free_port()),
        "-m",
        "hnn_fast.cli",
        "train",
        experiment,
        "--out",
        str(out),
        "--no-progress",
    ]
    for item in overrides:
        cmd += ["--set", item]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
