"""The event-digits dataset: scikit-learn's digits moved in saccades through the event emulator."""

import numpy as np
import pytest
import torch

from hnn_fast.data import (
    EVENT_DTYPE,
    EventDigits,
    EventDigitsConfig,
    bin_events,
    build_event_digits,
    digit_events,
    split_indices,
)
from hnn_fast.data import digits as digits_mod


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
