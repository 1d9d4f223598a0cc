"""torch.export of every op and module with a dynamic time and batch dimension: the exported program
saves, reloads and matches eager on other T and B than it was traced with."""

import pytest
import torch
from torch import nn
from torch.export import Dim

from hnn_fast import nn as hnn
from hnn_fast import ops

from helpers import assert_equal

# Lengths derived from T (the window count K) must not reach 1, where PyTorch specialises a size.
T_DIM, B_DIM = Dim("T", min=8, max=4096), Dim("B", min=2, max=4096)


class Op(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def _lif(**kw):
    return Op(lambda x: ops.lif(x, **kw))


CASES = {
    "lif": (_lif(), "time"),
    "lif-soft-learned-v0": (Op(lambda x: ops.lif(x, x[0] * 0.1, decay=0.8, reset="soft")), "time"),
    "leaky_integrate": (Op(lambda x: ops.leaky_integrate(x, decay=0.7)), "time"),
    "lif_recurrent": (Op(lambda x: ops.lif_recurrent(x, torch.eye(5) * 0.4 - 0.1, decay=0.8)), "time"),
    "hu_window-mean": (Op(lambda x: ops.hu_window(x, 3, 2, kernel="mean", drop_last=False)), "time"),
    "hu_window-exp": (Op(lambda x: ops.hu_window(x, 4, kernel="exp", decay=0.5)), "time"),
    "hu_window-weights": (Op(lambda x: ops.hu_window(x, 3, 1, kernel=torch.tensor([0.2, 0.3, 0.5]))), "time"),
    "hu_encode-rate": (Op(lambda a: ops.hu_encode(a, 6, mode="rate")), "values"),
    "hu_encode-latency": (
        Op(lambda a: ops.hu_encode(a, 6, mode="latency", nonlinearity="sigmoid")),
        "values",
    ),
    "LIF": (hnn.LIF(0.6, 0.8, param_shape=(5,), learn_decay=True, learn_threshold=True), "time"),
    "LeakyIntegrator": (hnn.LeakyIntegrator(0.9), "time"),
    "RecurrentLIF": (hnn.RecurrentLIF(5, 0.7, 0.6, learn_threshold=True, param_shape=(5,)), "time"),
    "S2AHU": (hnn.S2AHU(4, 2, kernel="sum", learn_kernel=True, channels=3, drop_last=False), "channels"),
    "A2SHU-rate": (hnn.A2SHU(5, "rate"), "values"),
    "A2SHU-learnable": (hnn.A2SHU(5, "learnable"), "values"),
    "ModulationHU": (hnn.ModulationHU(5, (2, 3), k=4.0, binarize=True), "values"),
    "hybrid": (
        nn.Sequential(
            nn.Linear(5, 7), hnn.LIF(), hnn.S2AHU(2, kernel="exp", decay=0.5), hnn.LeakyIntegrator()
        ),
        "time",
    ),
}

SHAPES = {  # (traced shape, another shape, dynamic dims)
    "time": ((10, 3, 5), (23, 6, 5), {0: T_DIM, 1: B_DIM}),
    "channels": ((10, 3, 4), (17, 3, 4), {0: T_DIM, 2: B_DIM}),
    "values": ((3, 5), (9, 5), {0: B_DIM}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_export_dynamic_save_load(name, tmp_path, one_thread):
    module, kind = CASES[name]
    traced, other, dims = SHAPES[kind]
    torch.manual_seed(0)
    x = torch.rand(traced) * 2
    exported = torch.export.export(module, (x,), dynamic_shapes=({**dims},))
    path = tmp_path / "model.pt2"
    torch.export.save(exported, path)
    loaded = torch.export.load(path).module()
    for shape in (traced, other):
        x = torch.rand(shape) * 2
        with torch.no_grad():
            expected = torch.utils._pytree.tree_leaves(module(x))
            actual = torch.utils._pytree.tree_leaves(loaded(x))
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected):
            assert_equal(name, a, e)
