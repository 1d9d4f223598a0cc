"""The event emulator: frames to DVS events, against hand-made scenes."""

import numpy as np
import pytest

from hnn_fast.data import EVENT_DTYPE, EventEmulator

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
