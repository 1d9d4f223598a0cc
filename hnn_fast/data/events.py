"""Event arrays, binning to dense tensors, and the N-MNIST binary format.

Events are a structured numpy array with fields ``x``, ``y``, ``t`` (microseconds) and ``p``
(True = ON, brightening), the layout the ``tonic`` library uses, so arrays pass between the two
without conversion. Dense tensors are ``[T, 2, H, W]`` with channel 0 = OFF and channel 1 = ON,
the same order as tonic's ``ToFrame`` (channel index = polarity value).
"""

from __future__ import annotations

import os
from typing import Union

import numpy as np
import torch

EVENT_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", bool)])

# N-MNIST packs a timestamp into 23 bits and each coordinate into one byte.
_NMNIST_MAX_T = (1 << 23) - 1
_NMNIST_MAX_XY = 255

PathLike = Union[str, "os.PathLike[str]"]


def make_events(x, y, t, p) -> np.ndarray:
    """Build an event array from equal-length arrays of x, y, t (microseconds) and p (True = ON)."""
    x, y, t, p = (np.asarray(a).reshape(-1) for a in (x, y, t, p))
    n = x.shape[0]
    for name, a in (("y", y), ("t", t), ("p", p)):
        if a.shape[0] != n:
            raise ValueError(f"make_events: {name} has {a.shape[0]} entries, x has {n}")
    ev = np.empty(n, dtype=EVENT_DTYPE)
    ev["x"], ev["y"], ev["t"], ev["p"] = x, y, t, p
    return ev


def _check_events(events, fn: str) -> np.ndarray:
    events = np.asarray(events)
    missing = [f for f in ("x", "y", "t", "p") if events.dtype.names is None or f not in events.dtype.names]
    if missing:
        raise TypeError(f"{fn}: events must be a structured array with fields x, y, t, p; missing {missing}")
    if events.ndim != 1:
        raise ValueError(f"{fn}: events must be 1-D, got shape {events.shape}")
    return events


def polarity_channel(p, fn: str) -> np.ndarray:
    """The channel index (0 = OFF, 1 = ON) of each polarity value: bool, 0/1, or -1/+1 (-1 = OFF).

    Any other value is an error rather than a silent shift into a neighbouring channel or bin."""
    p = np.asarray(p)
    if p.dtype == bool:
        return p.astype(np.int64)
    values = np.unique(p)
    if np.isin(values, (0, 1)).all():
        return p.astype(np.int64)
    if np.isin(values, (-1, 1)).all():
        return (p > 0).astype(np.int64)
    raise ValueError(
        f"{fn}: events['p'] must be bool, 0/1 or -1/+1 (OFF/ON), got values {values[:8].tolist()}"
    )


def bin_events(
    events,
    n_bins: int,
    height: int,
    width: int,
    t_start: int | None = None,
    t_end: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Count events into ``[n_bins, 2, height, width]`` over equal time bins of ``[t_start, t_end)``.

    ``t_start`` defaults to the first event's time and ``t_end`` to one past the last, so by
    default every event lands in a bin; events outside an explicit window are dropped, which lets
    a caller cut fixed-length windows out of a long recording. Polarity: see :func:`polarity_channel`.
    """
    events = _check_events(events, "bin_events")
    if int(n_bins) < 1:
        raise ValueError(f"bin_events: n_bins must be >= 1, got {n_bins}")
    if height < 1 or width < 1:
        raise ValueError(f"bin_events: height and width must be >= 1, got {height}x{width}")
    n_bins = int(n_bins)
    out_size = n_bins * 2 * height * width
    if events.shape[0] == 0:
        return torch.zeros(n_bins, 2, height, width, dtype=dtype)
    x = events["x"].astype(np.int64)
    y = events["y"].astype(np.int64)
    if x.min() < 0 or x.max() >= width:
        raise ValueError(f"bin_events: x outside [0, {width}) (range {x.min()}..{x.max()}); check width")
    if y.min() < 0 or y.max() >= height:
        raise ValueError(f"bin_events: y outside [0, {height}) (range {y.min()}..{y.max()}); check height")
    t = events["t"].astype(np.int64)
    t0 = int(t.min()) if t_start is None else int(t_start)
    t1 = int(t.max()) + 1 if t_end is None else int(t_end)
    if t1 <= t0:
        raise ValueError(f"bin_events: t_end ({t1}) must be greater than t_start ({t0})")
    # Integer arithmetic so a bin edge never depends on float rounding.
    b = ((t - t0) * n_bins) // (t1 - t0)
    keep = (t >= t0) & (t < t1)
    p = polarity_channel(events["p"], "bin_events")
    flat = ((b * 2 + p) * height + y) * width + x
    counts = np.bincount(flat[keep], minlength=out_size)
    return torch.from_numpy(counts.reshape(n_bins, 2, height, width)).to(dtype)


def read_nmnist(source: PathLike | bytes) -> np.ndarray:
    """Read an N-MNIST binary recording (a path, or the file's bytes) into an event array.

    Each event is 5 big-endian bytes: x, y, then polarity in the top bit of byte 2 and a 23-bit
    microsecond timestamp in the rest. Coordinates are stored 0-based (34x34 for N-MNIST).
    Timestamp-overflow marker events of the wider ATIS recordings (N-Caltech101) are not
    interpreted: N-MNIST recordings last ~0.3 s, far below the 8.4 s a 23-bit timestamp spans.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw = np.frombuffer(bytes(source), dtype=np.uint8)
        name = "<bytes>"
    else:
        raw = np.fromfile(os.fspath(source), dtype=np.uint8)
        name = os.fspath(source)
    if raw.size % 5 != 0:
        raise ValueError(
            f"read_nmnist: {name} has {raw.size} bytes, not a multiple of 5 (5 bytes per event); "
            "the file is truncated or not an N-MNIST recording"
        )
    rec = raw.reshape(-1, 5).astype(np.int64)
    t = ((rec[:, 2] & 0x7F) << 16) | (rec[:, 3] << 8) | rec[:, 4]
    return make_events(rec[:, 0], rec[:, 1], t, (rec[:, 2] >> 7).astype(bool))


def encode_nmnist(events) -> bytes:
    """Encode an event array in the N-MNIST 5-byte format (inverse of :func:`read_nmnist`)."""
    events = _check_events(events, "encode_nmnist")
    x = events["x"].astype(np.int64)
    y = events["y"].astype(np.int64)
    t = events["t"].astype(np.int64)
    for name, a, hi in (("x", x, _NMNIST_MAX_XY), ("y", y, _NMNIST_MAX_XY), ("t", t, _NMNIST_MAX_T)):
        if a.size and (a.min() < 0 or a.max() > hi):
            raise ValueError(f"encode_nmnist: events['{name}'] must lie in [0, {hi}] for the N-MNIST format")
    rec = np.empty((events.shape[0], 5), dtype=np.uint8)
    rec[:, 0] = x
    rec[:, 1] = y
    rec[:, 2] = (polarity_channel(events["p"], "encode_nmnist") << 7) | (t >> 16)
    rec[:, 3] = (t >> 8) & 0xFF
    rec[:, 4] = t & 0xFF
    return rec.tobytes()


def write_nmnist(path: PathLike, events) -> None:
    """Write an event array as an N-MNIST binary file."""
    data = encode_nmnist(events)
    with open(os.fspath(path), "wb") as f:
        f.write(data)
