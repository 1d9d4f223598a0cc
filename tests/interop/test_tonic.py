"""to_frame against tonic's own binning, on tonic's event dtype, and a tonic dataset as frames."""

import numpy as np
import pytest
import tonic
import tonic.functional
import torch

from hnn_fast.data import TonicFrames, to_frame

SENSOR = (34, 34, 2)  # tonic's (W, H, P) for N-MNIST


def tonic_events(n, seed=0, sensor=SENSOR, with_y=True, polarity_dtype=bool):
    rng = np.random.default_rng(seed)
    fields = [("x", np.int16), ("t", np.int64), ("p", polarity_dtype)]
    if with_y:
        fields.insert(1, ("y", np.int16))
    ev = np.zeros(n, dtype=fields)
    ev["x"] = rng.integers(0, sensor[0], n)
    if with_y:
        ev["y"] = rng.integers(0, sensor[1], n)
    ev["t"] = np.sort(rng.integers(0, 300_000, n)) + 1_234
    ev["p"] = rng.integers(0, sensor[2], n)
    return ev


BINNINGS = [
    {"time_window": 10_000},
    {"time_window": 33_333.5},
    {"event_count": 97},
    {"event_count": 5000},  # more than the recording holds: one frame of every event
    {"n_time_bins": 1},
    {"n_time_bins": 7},
    {"n_time_bins": 10},
]


@pytest.mark.parametrize("binning", BINNINGS, ids=lambda b: "-".join(map(str, b.items())))
def test_to_frame_equals_tonic(binning):
    ev = tonic_events(3000)
    ours = to_frame(ev, SENSOR, **binning)
    theirs = tonic.functional.to_frame_numpy(ev.copy(), SENSOR, **binning)
    assert ours.shape == theirs.shape and ours.dtype == torch.float32
    np.testing.assert_array_equal(ours.numpy(), theirs)


@pytest.mark.parametrize("binning", BINNINGS[:1] + BINNINGS[2:3] + BINNINGS[5:6])
def test_to_frame_one_row_and_one_polarity(binning):
    one_row = (50, 1, 2)
    ev = tonic_events(800, seed=1, sensor=one_row, with_y=False)
    np.testing.assert_array_equal(
        to_frame(ev, one_row, **binning).numpy(),
        tonic.functional.to_frame_numpy(ev.copy(), one_row, **binning),
    )
    mono = (16, 12, 1)
    ev = tonic_events(800, seed=2, sensor=mono)
    ours = to_frame(ev, mono, **binning)
    assert ours.shape[1] == 1
    np.testing.assert_array_equal(ours.numpy(), tonic.functional.to_frame_numpy(ev.copy(), mono, **binning))


def test_to_frame_signed_polarity_maps_minus_one_to_off():
    ev = tonic_events(500, seed=3, polarity_dtype=np.int8)
    signed = ev.copy()
    signed["p"] = 2 * ev["p"] - 1  # 0/1 -> -1/+1
    torch.testing.assert_close(to_frame(signed, SENSOR, n_time_bins=4), to_frame(ev, SENSOR, n_time_bins=4))


def test_to_frame_errors():
    ev = tonic_events(100)
    with pytest.raises(ValueError, match="exactly one of"):
        to_frame(ev, SENSOR, time_window=1000, n_time_bins=3)
    with pytest.raises(ValueError, match="sorted by t"):
        to_frame(ev[::-1], SENSOR, n_time_bins=3)
    with pytest.raises(ValueError, match="x outside"):
        to_frame(ev, (10, 34, 2), n_time_bins=3)
    with pytest.raises(ValueError, match="one polarity channel"):
        to_frame(ev, (34, 34, 1), n_time_bins=3)
    bad = tonic_events(10, polarity_dtype=np.int8)
    bad["p"][0] = 2
    with pytest.raises(ValueError, match=r"events\['p'\]"):
        to_frame(bad, SENSOR, n_time_bins=3)
    with pytest.raises(TypeError, match="fields x, t, p"):
        to_frame(np.zeros(3), SENSOR, n_time_bins=3)


class _FakeNMNIST:
    """The interface of tonic.datasets.NMNIST (indexable (events, label) pairs and sensor_size)
    without its download; events in tonic's own NMNIST dtype."""

    sensor_size = tonic.datasets.NMNIST.sensor_size

    def __init__(self, n):
        self.items = [
            (tonic_events(200, seed=i).astype(tonic.datasets.NMNIST.dtype), i % 10) for i in range(n)
        ]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def test_tonic_frames_dataset():
    ds = _FakeNMNIST(5)
    frames = TonicFrames(ds, n_time_bins=10, limit=4)
    assert frames.data.shape == (4, 10, 2, 34, 34) and frames.targets.tolist() == [0, 1, 2, 3]
    ev, label = ds[2]
    x, y = frames[2]
    assert y == label
    np.testing.assert_array_equal(
        x.numpy(), tonic.functional.to_frame_numpy(ev.copy(), SENSOR, n_time_bins=10)
    )
