"""Training checkpoints: torch.save of a tagged, versioned dict, written atomically, and the RNG state
that resuming needs to continue exactly where an uninterrupted run would be."""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

FORMAT = "hnn_fast.train.checkpoint"
# 2: a sha256 checksum of the contents (the "checksum" key).
VERSION = 2
_REQUIRED = (
    "experiment",
    "config",
    "step",
    "epoch",
    "batch_in_epoch",
    "world_size",
    "model",
    "optimizer",
    "scheduler",
    "processes",
)


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, unreadable or not an hnn_fast training checkpoint."""


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """Writes state to a temporary file beside path, then renames it over path: a crash mid-write
    leaves the previous checkpoint at path intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{_TMP_PREFIX % path.name}{os.getpid()}")
    data = {"format": FORMAT, "version": VERSION, **state}
    data["checksum"] = checksum(data)
    try:
        with open(tmp, "wb") as f:
            torch.save(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    _remove_stale_temporaries(path)


# A save writes .NAME.tmp-PID first; one killed mid-write leaves that file behind.
_TMP_PREFIX = ".%s.tmp-"


def _remove_stale_temporaries(path: Path) -> None:
    """Removes the temporary files of saves whose process no longer runs (killed mid-write)."""
    prefix = _TMP_PREFIX % path.name
    for tmp in path.parent.glob(f"{prefix}*"):
        pid = tmp.name[len(prefix) :]
        if pid.isdigit() and not _process_alive(int(pid)):
            tmp.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return pid > 0  # another user's live process, or no valid pid at all
    return True


def checksum(data: dict[str, Any]) -> str:
    """sha256 of every value of data but "checksum" itself, tensors by dtype, shape and bytes: a file
    edited after it was written (or damaged on disk in a way the zip format misses) fails to load."""
    digest = hashlib.sha256()
    _feed(digest, {k: v for k, v in data.items() if k != "checksum"})
    return digest.hexdigest()


def _feed(digest: Any, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        digest.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, dict):
        digest.update(f"D{len(value)}".encode())
        for key, item in value.items():
            _feed(digest, key)
            _feed(digest, item)
    elif isinstance(value, (list, tuple)):
        digest.update(f"L{len(value)}".encode())
        for item in value:
            _feed(digest, item)
    else:
        digest.update(f"V{type(value).__name__}:{value!r}".encode())


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint at path, on the CPU; CheckpointError naming path if it is not a valid one."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        # weights_only: a checkpoint is data; loading one must not run code it carries.
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch.load raises many types (pickle, zip, EOF, ...); all mean "unreadable"
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"cannot read checkpoint {path}: corrupt or not a checkpoint ({reason})") from e
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an hnn_fast training checkpoint (no {FORMAT!r} format tag)")
    if data.get("version") != VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {data.get('version')!r}; "
            f"this hnn_fast reads version {VERSION}"
        )
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise CheckpointError(f"checkpoint {path} is incomplete: missing {', '.join(missing)}")
    if data.get("checksum") != checksum(data):
        raise CheckpointError(f"checkpoint {path} fails its checksum: it was changed or damaged after saving")
    if not isinstance(data["model"], dict) or not all(
        torch.isfinite(t).all() for t in data["model"].values() if _is_float_tensor(t)
    ):
        raise CheckpointError(f"checkpoint {path} holds non-finite (NaN or inf) or malformed model weights")
    return data


def _is_float_tensor(value: Any) -> bool:
    return isinstance(value, torch.Tensor) and value.is_floating_point()


def capture_rng(generator: torch.Generator) -> dict[str, Any]:
    """Every RNG a step can draw from: Python, numpy, torch (CPU and the current CUDA device) and the
    loop's own generator. numpy's key array is stored as a tensor so the file loads with weights_only."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {
            "name": name,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
        "generator": generator.get_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def restore_rng(state: dict[str, Any], generator: torch.Generator) -> None:
    random.setstate(_as_tuples(state["python"]))
    np_state = state["numpy"]
    np.random.set_state(
        (
            np_state["name"],
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    generator.set_state(state["generator"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def _as_tuples(value: Any) -> Any:
    # random.setstate wants the nested tuples it gave; a round trip may hand back lists.
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not every platform lets a directory be opened.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
