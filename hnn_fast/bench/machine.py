"""Where a run happened: recorded with every result so runs from different machines are not mixed up."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import torch


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(*args: str) -> str | None:
    source = Path(__file__).resolve().parents[2]
    try:
        done = subprocess.run(["git", *args], cwd=source, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def machine_info(device: torch.device) -> dict:
    import hnn_fast

    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "gpu": gpu,
        "gpu_count": torch.cuda.device_count() if torch.cuda.is_available() else 0,
        "platform": platform.platform(),
        "python_version": platform.python_version(),
        "torch_version": torch.__version__,
        "torch_cuda_version": torch.version.cuda,
        "hnn_fast_version": hnn_fast.__version__,
        "hnn_fast_build": hnn_fast.build_info(),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": None if status is None else bool(status),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
