"""Event frames as tonic bins them: ``to_frame`` slices a recording by time window, event count or
number of time bins, with each argument meaning what it means in ``tonic.functional.to_frame_numpy``,
so that frames made here equal tonic's on the same events (without importing tonic)."""

from __future__ import annotations

import numpy as np
import torch

from .events import polarity_channel


def to_frame(
    events,
    sensor_size,
    *,
    time_window: float | None = None,
    event_count: int | None = None,
    n_time_bins: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Count events into frames ``[T, P, H, W]`` (``[T, P, W]`` for events without a ``y`` field).

    events: a structured array with fields x, (y), t, p sorted by t (tonic's layout; polarity as in
    :func:`hnn_fast.data.events.polarity_channel`). sensor_size: tonic's ``(W, H, P)``, P = 1 or 2;
    with P = 1 every event counts in channel 0 and both polarities present is an error.
    Exactly one of: ``time_window`` (us; frames ``[t0 + k w, t0 + (k + 1) w)`` while a whole window
    fits before the last event), ``event_count`` (consecutive slices of that many events, the last
    incomplete one dropped), ``n_time_bins`` (that many frames of ``(t_last - t0) // n`` us each).
    """
    events = np.asarray(events)
    names = events.dtype.names or ()
    missing = [f for f in ("x", "t", "p") if f not in names]
    if missing or events.ndim != 1:
        raise TypeError(
            f"to_frame: events must be a 1-D structured array with fields x, t, p (and y); "
            f"missing {missing}, shape {events.shape}"
        )
    if sum(a is not None for a in (time_window, event_count, n_time_bins)) != 1:
        raise ValueError("to_frame: give exactly one of time_window, event_count, n_time_bins")
    width, height, polarities = (int(s) for s in sensor_size)
    if polarities not in (1, 2) or width < 1 or height < 1:
        raise ValueError(f"to_frame: sensor_size must be (W, H, P) with P 1 or 2, got {tuple(sensor_size)}")
    t = events["t"]
    if len(t) and np.any(np.diff(t) < 0):
        raise ValueError("to_frame: events must be sorted by t")
    p = polarity_channel(events["p"], "to_frame")
    if polarities == 1:
        if np.unique(p).size > 1:
            raise ValueError("to_frame: sensor_size has one polarity channel, but the events have both")
        p = np.zeros_like(p)
    has_y = "y" in names
    _check_range(events["x"], width, "x")
    if has_y:
        _check_range(events["y"], height, "y")
    starts, ends = _slices(t, time_window, event_count, n_time_bins)
    frame_shape = (polarities, height, width) if has_y else (polarities, width)
    frames = np.zeros((len(starts), *frame_shape), dtype=np.int64)
    for k, (a, b) in enumerate(zip(starts, ends)):
        index = (p[a:b], events["y"][a:b], events["x"][a:b]) if has_y else (p[a:b], events["x"][a:b])
        np.add.at(frames[k], index, 1)
    return torch.from_numpy(frames).to(dtype)


def _check_range(values: np.ndarray, size: int, name: str) -> None:
    if len(values) and (values.min() < 0 or values.max() >= size):
        raise ValueError(
            f"to_frame: {name} outside [0, {size}) (range {values.min()}..{values.max()}); check sensor_size"
        )


def _slices(t: np.ndarray, time_window, event_count, n_time_bins) -> tuple[np.ndarray, np.ndarray]:
    """[start, end) event indices of each frame, by tonic's slicing rules (overlap 0, no incomplete)."""
    if event_count is not None:
        if int(event_count) < 1:
            raise ValueError(f"to_frame: event_count must be >= 1, got {event_count}")
        count = min(int(event_count), len(t))
        n = (len(t) - count) // int(event_count) + 1
        starts = np.arange(n) * int(event_count)
        return starts, starts + count
    if len(t) == 0:
        raise ValueError("to_frame: time_window and n_time_bins need at least one event")
    if n_time_bins is not None:
        if int(n_time_bins) < 1:
            raise ValueError(f"to_frame: n_time_bins must be >= 1, got {n_time_bins}")
        n, window = int(n_time_bins), (t[-1] - t[0]) // int(n_time_bins)
    else:
        if not time_window > 0:
            raise ValueError(f"to_frame: time_window must be > 0, got {time_window}")
        window = time_window
        n = max(int(np.floor((t[-1] - t[0] - window) / window) + 1), 1)
    begin = np.arange(n) * window + t[0]
    return np.searchsorted(t, begin), np.searchsorted(t, begin + window)


class TonicFrames(torch.utils.data.Dataset):
    """A tonic event dataset (``tonic.datasets.NMNIST(...)``, or any sequence of ``(events, label)``
    with a ``sensor_size``) binned once into ``data`` ``[N, n_time_bins, P, H, W]`` and ``targets``
    ``[N]``, the layout of :class:`hnn_fast.data.EventDigits`, so it can stand in for it."""

    def __init__(self, dataset, n_time_bins: int, limit: int | None = None, sensor_size=None):
        sensor_size = sensor_size if sensor_size is not None else getattr(dataset, "sensor_size", None)
        if sensor_size is None:
            raise ValueError("TonicFrames: the dataset has no sensor_size; pass sensor_size=(W, H, P)")
        n = len(dataset) if limit is None else min(int(limit), len(dataset))
        frames, labels = [], []
        for i in range(n):
            events, label = dataset[i]
            frames.append(to_frame(events, sensor_size, n_time_bins=n_time_bins))
            labels.append(int(label))
        self.sensor_size = tuple(sensor_size)
        self.data = torch.stack(frames) if frames else torch.zeros(0, n_time_bins, *sensor_size[::-1])
        self.targets = torch.tensor(labels, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int):
        return self.data[i], int(self.targets[i])
