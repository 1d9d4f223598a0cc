"""Binning events into count tensors, and the N-MNIST and tonic formats."""

import numpy as np
import pytest
import torch

from hnn_fast.data import EVENT_DTYPE, bin_events, encode_nmnist, make_events, read_nmnist, write_nmnist


def random_events(n, seed=0, t_max=300_000):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, t_max, n))
    return make_events(rng.integers(0, 34, n), rng.integers(0, 34, n), t, rng.random(n) < 0.5)


def test_bin_events_matches_add_at():
    ev = random_events(5000)
    out = bin_events(ev, 7, 34, 34, t_start=0, t_end=300_000)
    ref = np.zeros((7, 2, 34, 34))
    b = ev["t"] * 7 // 300_000
    np.add.at(ref, (b, ev["p"].astype(int), ev["y"], ev["x"]), 1)
    assert out.shape == (7, 2, 34, 34) and out.dtype == torch.float32
    np.testing.assert_array_equal(out.numpy(), ref)


def test_bin_events_window_and_polarity_channel():
    ev = make_events([1, 2, 3], [0, 1, 2], [100, 150, 250], [True, False, True])
    out = bin_events(ev, 2, 3, 4, t_start=100, t_end=200)
    assert out.sum() == 2  # the event at t=250 is outside [100, 200)
    assert out[0, 1, 0, 1] == 1 and out[1, 0, 1, 2] == 1
    whole = bin_events(ev, 1, 3, 4)
    assert whole.sum() == 3
    with pytest.raises(ValueError, match="width"):
        bin_events(ev, 2, 3, 3)
    with pytest.raises(ValueError, match="n_bins"):
        bin_events(ev, 0, 3, 4)


def test_nmnist_round_trip(tmp_path):
    ev = random_events(2000, seed=1)
    ev["t"][-1] = (1 << 23) - 1  # largest representable timestamp
    path = tmp_path / "00001.bin"
    write_nmnist(path, ev)
    assert path.stat().st_size == 5 * len(ev)
    back = read_nmnist(path)
    assert back.dtype == EVENT_DTYPE
    np.testing.assert_array_equal(back, ev)
    np.testing.assert_array_equal(read_nmnist(path.read_bytes()), ev)


def test_nmnist_bit_layout():
    ev = make_events([33], [7], [0x12345], [True])
    assert encode_nmnist(ev) == bytes([33, 7, 0x80 | 0x01, 0x23, 0x45])
    back = read_nmnist(bytes([5, 6, 0x7F, 0xFF, 0xFF, 1, 2, 0x80, 0, 9]))
    assert back["x"].tolist() == [5, 1] and back["y"].tolist() == [6, 2]
    assert back["t"].tolist() == [(1 << 23) - 1, 9] and back["p"].tolist() == [False, True]


def test_nmnist_errors(tmp_path):
    path = tmp_path / "bad.bin"
    path.write_bytes(bytes(12))
    with pytest.raises(ValueError, match="multiple of 5"):
        read_nmnist(path)
    with pytest.raises(ValueError, match="'t'"):
        encode_nmnist(make_events([0], [0], [1 << 23], [True]))
    with pytest.raises(ValueError, match="'x'"):
        encode_nmnist(make_events([256], [0], [0], [True]))


def test_tonic_layout():
    assert np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", bool)]) == EVENT_DTYPE


def test_bin_events_polarity_values():
    # bool, 0/1 and -1/+1 polarities all put OFF events in channel 0 and ON events in channel 1
    x, y, t = [0, 1], [0, 0], [0, 10]
    expected = bin_events(make_events(x, y, t, [False, True]), 2, 1, 2)
    for p in ([0, 1], [-1, 1]):
        ev = np.zeros(2, dtype=[("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", np.int8)])
        ev["x"], ev["y"], ev["t"], ev["p"] = x, y, t, p
        out = bin_events(ev, 2, 1, 2)
        torch.testing.assert_close(out, expected, rtol=0, atol=0)
    assert expected[0, 0, 0, 0] == 1 and expected[1, 1, 0, 1] == 1


@pytest.mark.parametrize("bad", [[0, 2], [-1, 0], [1, 3]])
def test_bin_events_rejects_other_polarities(bad):
    ev = np.zeros(2, dtype=[("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", np.int8)])
    ev["t"], ev["p"] = [0, 10], bad
    with pytest.raises(ValueError, match=r"events\['p'\] must be bool, 0/1 or -1/\+1"):
        bin_events(ev, 2, 1, 2)
