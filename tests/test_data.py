import numpy as np
import pytest
import torch

from hnn_fast.data import (
    EVENT_DTYPE,
    EventDigits,
    EventDigitsConfig,
    EventEmulator,
    bin_events,
    build_event_digits,
    digit_events,
    encode_nmnist,
    make_events,
    read_nmnist,
    split_indices,
    write_nmnist,
)
from hnn_fast.data import digits as digits_mod
from hnn_fast.networks.hmn.data import (
    N_INPUTS,
    PermutedDataset,
    PermutedTaskGroups,
    hamming_similarity,
    permute_sample,
)

H, W = 6, 16


def moving_edge(bright_left: bool, n_frames=11, x0=3, dt_us=1000):
    """Edge between x < x0 + i and the rest, one pixel per frame; returns frames, times."""
    frames = np.empty((n_frames, H, W))
    for i in range(n_frames):
        left = np.arange(W) < x0 + i
        frames[i] = np.where(left, 1.0, 0.1) if bright_left else np.where(left, 0.1, 1.0)
    return frames, np.arange(n_frames) * dt_us


# ---------------------------------------------------------------- emulator


@pytest.mark.parametrize("bright_left,on", [(True, True), (False, False)])
def test_moving_edge_polarity_and_place(bright_left, on):
    frames, ts = moving_edge(bright_left)
    ev = EventEmulator(H, W)(frames, ts)
    assert ev.dtype == EVENT_DTYPE
    assert len(ev) > 0
    # Brightening (bright side advancing) gives ON only, darkening gives OFF only.
    assert np.all(ev["p"] == on)
    # Only the columns the edge sweeps over (x0 .. x0 + n_frames - 2) change.
    assert set(np.unique(ev["x"])) == set(range(3, 3 + 10))
    # Column x flips between frames x - 3 and x - 2, so its events fall in that interval.
    flip = (ev["x"] - 3) * 1000
    assert np.all(ev["t"] >= flip) and np.all(ev["t"] <= flip + 1000)
    # Every pixel of a swept column fires the same number of events: floor(log contrast / theta).
    n = int(np.floor(np.log(1.01 / 0.11) / 0.2))
    per_pixel = np.bincount(ev["y"].astype(int) * W + ev["x"], minlength=H * W).reshape(H, W)
    assert (
        np.all(per_pixel[:, 3:13] == n) and np.all(per_pixel[:, :3] == 0) and np.all(per_pixel[:, 13:] == 0)
    )
    assert np.all(np.diff(ev["t"]) >= 0)


def test_still_image_gives_no_events():
    rng = np.random.default_rng(0)
    img = rng.random((H, W))
    frames = np.repeat(img[None], 50, axis=0)
    em = EventEmulator(H, W, threshold_on=0.05, threshold_off=0.05, threshold_mismatch=0.2, seed=1)
    assert len(em(frames, np.arange(50) * 1000)) == 0


def test_events_interpolated_between_frames():
    # One pixel brightens by a large factor between two frames 10 ms apart: several threshold
    # crossings, each at its own time along the log-linear path, not all at the frame time.
    frames = np.full((2, 1, 1), 0.0)
    frames[1] = 1.0
    ev = EventEmulator(1, 1, threshold_on=0.5, log_eps=0.01)(frames, [0, 10_000])
    levels = np.arange(1, int(np.log(1.01 / 0.01) / 0.5) + 1) * 0.5
    expected = np.rint(levels / np.log(1.01 / 0.01) * 10_000)
    np.testing.assert_array_equal(ev["t"], expected)
    assert np.all(ev["p"])


def test_refractory_period_spaces_events():
    frames, ts = moving_edge(True, dt_us=1000)
    free = EventEmulator(H, W)(frames, ts)
    ev = EventEmulator(H, W, refractory_us=300)(frames, ts)
    assert 0 < len(ev) < len(free)
    for pix in np.unique(ev["y"].astype(int) * W + ev["x"]):
        t = ev["t"][ev["y"].astype(int) * W + ev["x"] == pix]
        assert np.all(np.diff(t) >= 300 - 1)  # -1: timestamps are rounded to whole microseconds


def test_refractory_on_a_steady_ramp():
    # Log intensity rises 0.15 per ms. After each event the pixel is held for 3 ms while its
    # memory follows the input, so events come every r + theta / slope = 3000 + 1333.3 us,
    # including releases that fall inside a frame where the pixel is below threshold.
    eps = 0.01
    ts = np.arange(0, 21_000, 1000)
    frames = (np.exp(0.15 * ts / 1000) * eps - eps)[:, None, None]
    ev = EventEmulator(1, 1, threshold_on=0.2, refractory_us=3000, log_eps=eps)(frames, ts)
    spacing = 3000 + 0.2 / 0.15 * 1000
    expected = np.rint(0.2 / 0.15 * 1000 + spacing * np.arange(5))
    np.testing.assert_allclose(ev["t"], expected, atol=1)
    assert np.all(ev["p"])


def test_streaming_equals_one_call():
    frames, ts = moving_edge(True)
    whole = EventEmulator(H, W, refractory_us=250)(frames, ts)
    em = EventEmulator(H, W, refractory_us=250)
    parts = np.concatenate([em(frames[:4], ts[:4]), em(frames[4:], ts[4:])])
    np.testing.assert_array_equal(
        np.sort(parts, order=["t", "y", "x"]), np.sort(whole, order=["t", "y", "x"])
    )


def test_shot_noise_rate_and_polarities():
    frames = np.full((2, 20, 20), 0.5)
    ev = EventEmulator(20, 20, shot_noise_rate_hz=10.0, seed=3)(frames, [0, 500_000])
    expected = 10.0 * 400 * 0.5
    assert abs(len(ev) - expected) < 5 * np.sqrt(expected)
    assert 0.4 < ev["p"].mean() < 0.6
    assert ev["t"].min() >= 0 and ev["t"].max() <= 500_000


def test_per_pixel_thresholds():
    # Left half has a threshold twice the right half: half as many events for the same contrast.
    thr = np.full((H, W), 0.1)
    thr[:, : W // 2] = 0.2
    frames = np.stack([np.full((H, W), 0.1), np.full((H, W), 1.0)])
    ev = EventEmulator(H, W, threshold_on=thr)(frames, [0, 1000])
    left = (ev["x"] < W // 2).sum() / (H * W // 2)
    right = (ev["x"] >= W // 2).sum() / (H * W // 2)
    c = np.log(1.01 / 0.11)
    assert left == np.floor(c / 0.2) and right == np.floor(c / 0.1)
    em = EventEmulator(H, W, threshold_mismatch=0.1, seed=0)
    assert em.threshold_on.std() > 0 and abs(em.threshold_on.mean() - 0.2) < 0.02
    assert not np.array_equal(em.threshold_on, em.threshold_off)


@pytest.mark.parametrize(
    "kwargs,frames,ts,match",
    [
        ({}, np.zeros((3, H + 1, W)), [0, 1, 2], "frames"),
        ({}, np.zeros((H, W)), [0], "frames"),
        ({}, np.zeros((3, H, W)), [0, 2, 1], "timestamps_us"),
        ({}, np.zeros((3, H, W)), [0, 1], "timestamps_us"),
        ({}, -np.ones((2, H, W)), [0, 1], "frames"),
    ],
)
def test_emulator_input_errors(kwargs, frames, ts, match):
    with pytest.raises(ValueError, match=match):
        EventEmulator(H, W, **kwargs)(frames, ts)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"threshold_on": 0.0}, "threshold_on"),
        ({"threshold_off": -0.1}, "threshold_off"),
        ({"threshold_on": np.ones((2, 2))}, "threshold_on"),
        ({"refractory_us": -1}, "refractory_us"),
        ({"shot_noise_rate_hz": -1}, "shot_noise_rate_hz"),
        ({"threshold_mismatch": -0.1}, "threshold_mismatch"),
    ],
)
def test_emulator_parameter_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EventEmulator(H, W, **kwargs)


def test_stream_must_continue_in_time():
    em = EventEmulator(H, W)
    em(np.zeros((2, H, W)), [0, 10])
    with pytest.raises(ValueError, match="timestamps_us"):
        em(np.zeros((1, H, W)), [10])


# ---------------------------------------------------------------- binning and formats


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


# ---------------------------------------------------------------- event-digits


def test_event_digits_build_properties():
    counts, labels = build_event_digits(indices=[0, 1, 2, 3])
    assert counts.shape == (4, 10, 2, 34, 34) and labels.tolist() == [0, 1, 2, 3]
    per_sample = counts.reshape(4, -1).sum(1)
    assert np.all(per_sample > 1000)
    # Each of the three saccades moves the digit, so every time bin holds both polarities.
    assert np.all(counts.sum(axis=(0, 3, 4)) > 0)
    # Same seed, same data; and a sample does not depend on its batch companions.
    again, _ = build_event_digits(indices=[2])
    np.testing.assert_array_equal(again[0], counts[2])
    other, _ = build_event_digits(EventDigitsConfig(seed=1), indices=[2])
    assert not np.array_equal(other[0], counts[2])
    # Row 0 and column 0 are never covered by the digit (positions >= 1): only noise lands
    # there, and it differs between samples.
    border = counts[:, :, :, 0, :].reshape(4, -1), counts[:, :, :, :, 0].reshape(4, -1)
    border = np.concatenate(border, axis=1)
    assert border.sum() > 0
    assert len({row.tobytes() for row in border}) == 4


def test_digit_events_match_binned_counts():
    cfg = EventDigitsConfig(n_bins=5)
    counts, _ = build_event_digits(cfg, indices=[7])
    ev = digit_events(7, cfg)
    assert ev.dtype == EVENT_DTYPE and np.all(np.diff(ev["t"]) >= 0)
    binned = bin_events(ev, 5, 34, 34, t_start=0, t_end=cfg.duration_us + 1)
    np.testing.assert_array_equal(binned.numpy(), counts[0])


def test_event_digits_dataset_cache_and_split(tmp_path, monkeypatch):
    train = EventDigits(train=True, root=tmp_path, limit=20)
    test = EventDigits(train=False, root=tmp_path, limit=20)
    assert len(list(tmp_path.glob("event_digits_*.npz"))) == 1
    assert len(train) + len(test) == 20 and len(test) == round(20 * 360 / 1797)
    assert not set(train.indices) & set(test.indices)
    x, y = train[0]
    assert x.shape == (10, 2, 34, 34) and x.dtype == torch.float32 and isinstance(y, int)

    def no_build(*a, **k):
        raise AssertionError("cache was not used")

    monkeypatch.setattr(digits_mod, "build_event_digits", no_build)
    cached = EventDigits(train=True, root=tmp_path, limit=20)
    torch.testing.assert_close(cached.data, train.data)
    with pytest.raises(AssertionError, match="cache"):
        EventDigits(train=True, root=tmp_path, limit=20, config=EventDigitsConfig(n_bins=4))


def test_full_split_is_stratified():
    labels = digits_mod.load_digit_images()[1]
    train, test = split_indices(labels, 360)
    assert len(train) == 1437 and len(test) == 360
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(1797))
    share = np.bincount(labels[test], minlength=10) / np.bincount(labels, minlength=10)
    assert np.all(np.abs(share - 360 / 1797) < 0.01)
    np.testing.assert_array_equal(split_indices(labels, 360)[1], test)


def test_event_digits_config_errors():
    with pytest.raises(ValueError, match="saccade_vertices"):
        EventDigitsConfig(saccade_vertices=((0, 0), (7, 0), (0, 3)))
    with pytest.raises(ValueError, match="n_bins"):
        EventDigitsConfig(n_bins=0)


# ---------------------------------------------------------------- permuted tasks


def test_permutation_groups_structure():
    groups = PermutedTaskGroups(n_groups=6, seed=0)
    P = groups.permutations
    assert P.shape == (24, N_INPUTS) == (24, 2312)
    assert np.all(np.sort(P, axis=1) == np.arange(N_INPUTS))
    for g in range(6):
        rows = P[4 * g : 4 * g + 4]
        # Outside its block a task equals every other task of its group (the base permutation).
        for j in range(4):
            start, length = groups.blocks[4 * g + j]
            assert 300 <= length <= 400
            outside = np.ones(N_INPUTS, bool)
            outside[start : start + length] = False
            for k in range(4):
                other_start, other_len = groups.blocks[4 * g + k]
                both = outside.copy()
                both[other_start : other_start + other_len] = False
                assert np.array_equal(rows[j][both], rows[k][both])


def test_similarity_matches_hamming_and_groups():
    groups = PermutedTaskGroups(n_groups=5, seed=2)
    S = groups.similarity()
    P = groups.permutations
    for i, j in [(0, 1), (0, 5), (3, 2), (7, 19), (10, 10)]:
        assert S[i, j] == pytest.approx(1 - np.mean(P[i] != P[j]))
    same = groups.groups[:, None] == groups.groups[None, :]
    off_diag = ~np.eye(len(groups), dtype=bool)
    assert np.all(np.diag(S) == 1) and np.allclose(S, S.T)
    # Two tasks of a group differ on at most their two blocks (<= 800 of 2312 positions).
    assert S[same & off_diag].min() >= 1 - 800 / N_INPUTS
    assert S[~same].max() < 0.02
    np.testing.assert_array_equal(hamming_similarity(P[:3]), S[:3, :3])


def test_permutation_groups_seeded():
    a, b = PermutedTaskGroups(3, seed=4), PermutedTaskGroups(3, seed=4)
    np.testing.assert_array_equal(a.permutations, b.permutations)
    assert not np.array_equal(a.permutations, PermutedTaskGroups(3, seed=5).permutations)
    with pytest.raises(ValueError, match="n_groups"):
        PermutedTaskGroups(0)


def test_permute_sample():
    perm = PermutedTaskGroups(1).permutations[0]
    x = torch.randn(3, 2, 34, 34)
    y = permute_sample(x, torch.from_numpy(perm))
    assert y.shape == x.shape
    for t in range(3):
        assert torch.equal(y[t].reshape(-1), x[t].reshape(-1)[perm])
    inverse = np.argsort(perm)
    assert torch.equal(permute_sample(y, torch.from_numpy(inverse)), x)
    np.testing.assert_array_equal(permute_sample(x.numpy(), perm), y.numpy())
    ds = PermutedDataset([(x, 4)], perm)
    px, label = ds[0]
    assert torch.equal(px, y) and label == 4
    with pytest.raises(ValueError, match="perm"):
        permute_sample(x, perm[:-1])
