"""The HMN experiment on a tonic NMNIST dataset (dataset=nmnist): a stand-in for
tonic.datasets.NMNIST with tonic's event dtype, sensor size and class-by-class file order, so that
nothing is downloaded."""

import json

import numpy as np
import pytest
import tonic
import torch

from hnn_fast.data import to_frame
from hnn_fast.networks.hmn.experiment import HMNConfig, _Data
from hnn_fast.train import ConfigError, train

SENSOR = (34, 34, 2)


class FakeNMNIST:
    """What the experiment uses of tonic.datasets.NMNIST: (events, label) items, len, sensor_size."""

    sensor_size = SENSOR
    dtype = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])
    opened: list = []

    def __init__(self, save_to, train=True):
        FakeNMNIST.opened.append((save_to, train))
        n = 40 if train else 20
        self.targets = sorted(i % 10 for i in range(n))  # tonic lists the recordings class by class
        self.seed = 0 if train else 1

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        rng = np.random.default_rng((self.seed, i))
        n = int(rng.integers(300, 600))
        events = np.zeros(n, dtype=self.dtype)
        events["x"], events["y"] = rng.integers(0, 34, n), rng.integers(0, 34, n)
        events["t"] = np.sort(rng.integers(0, 300_000, n))
        events["p"] = rng.integers(0, 2, n)
        return events, self.targets[i]


@pytest.fixture
def fake_nmnist(monkeypatch):
    FakeNMNIST.opened = []
    monkeypatch.setattr(tonic.datasets, "NMNIST", FakeNMNIST)
    return FakeNMNIST


def test_nmnist_recordings_become_the_experiment_data(fake_nmnist, tmp_path):
    cfg = HMNConfig(dataset="nmnist", nmnist_root=str(tmp_path), time_bins=5, groups=3, test_groups=1)
    data = _Data(cfg)
    assert fake_nmnist.opened == [(str(tmp_path), True), (str(tmp_path), False)]
    assert data.x_train.shape == (40, 5, 2 * 34 * 34) and data.x_test.shape == (20, 5, 2 * 34 * 34)
    # a fixed shuffle of the recordings: the first ten already hold several classes
    assert len(set(data.y_train[:10].tolist())) >= 5
    source = FakeNMNIST("unused", train=True)
    for i in (0, 17, 39):
        label = int(data.y_train[i])
        matches = [
            j
            for j in range(len(source))
            if source.targets[j] == label
            and torch.equal(
                to_frame(source[j][0], SENSOR, n_time_bins=10).reshape(5, 2, -1).sum(1), data.x_train[i]
            )
        ]
        assert len(matches) == 1  # each sample is one recording, binned as tonic bins it
    limited = _Data(HMNConfig(dataset="nmnist", nmnist_root=str(tmp_path), data_limit=12, time_bins=5))
    assert len(limited.x_train) == 12 and len(limited.x_test) == 12
    assert torch.equal(limited.x_train, data.x_train[:12])


def test_nmnist_needs_its_root():
    with pytest.raises(ConfigError, match="nmnist_root"):
        _Data(HMNConfig(dataset="nmnist"))


def test_hmn_runs_on_nmnist(fake_nmnist, tmp_path):
    overrides = [
        "dataset=nmnist",
        f"nmnist_root={tmp_path / 'nmnist'}",
        "methods=hmn,snn",
        "groups=3",
        "test_groups=1",
        "tasks_per_group=2",
        "hidden=12",
        "backbone_hidden=24",
        "epochs=1",
        "stage1_epochs=1",
        "stage1_per_task=16",
        "stage1_batch_size=16",
        "batch_size=16",
        "time_bins=2",
    ]
    result = train("hmn", overrides=overrides, out_dir=tmp_path / "run", progress=False)
    assert result.status == "completed"
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert list(results["methods"]) == ["hmn", "snn"]
    for rec in results["methods"].values():
        assert all(0 <= a <= 1 for row in rec["accuracy_matrix"] for a in row if a is not None)
