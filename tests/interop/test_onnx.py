"""ONNX export (hnn_fast.export.to_onnx) run in onnxruntime: the same spikes and values as eager on the
fused ops, on the traced input and on another batch size."""

import numpy as np
import onnxruntime
import pytest
import torch
from torch import nn
from torch.export import Dim

from hnn_fast import get_backend
from hnn_fast import nn as hnn
from hnn_fast.export import to_onnx

from helpers import assert_close, assert_equal

MODELS = {
    "snn": lambda: nn.Sequential(
        nn.Linear(6, 9), hnn.LIF(0.7, 0.9), nn.Linear(9, 4), hnn.LeakyIntegrator(0.8)
    ),
    "soft-learned": lambda: nn.Sequential(
        nn.Linear(6, 9), hnn.LIF(0.5, 1.1, param_shape=(9,), learn_decay=True, reset="soft")
    ),
    "recurrent": lambda: nn.Sequential(nn.Linear(6, 9), hnn.RecurrentLIF(9, 0.8, 0.7), nn.Linear(9, 4)),
    "hybrid": lambda: nn.Sequential(  # ANN -> A2S HU -> SNN -> S2A HU -> ANN on [B, 6]
        nn.Linear(6, 8),
        hnn.A2SHU(12, "rate", nonlinearity="sigmoid"),
        nn.Linear(8, 8),
        hnn.LIF(),
        hnn.S2AHU(4, 2, kernel="exp", decay=0.5, drop_last=False),
        nn.Linear(8, 3),
    ),
}
INPUTS = {"snn": (10, 3, 6), "soft-learned": (10, 3, 6), "recurrent": (10, 3, 6), "hybrid": (3, 6)}


@pytest.mark.parametrize("name", list(MODELS))
def test_onnx_matches_eager(name, tmp_path, one_thread):
    torch.manual_seed(0)
    model = MODELS[name]()
    shape = INPUTS[name]
    batch_dim = len(shape) - 2
    x = torch.rand(shape) * 2
    path = tmp_path / "model.onnx"
    dims = ({batch_dim: Dim("B", min=2, max=1024)},)
    to_onnx(model, (x,), path, dynamic_shapes=dims)
    assert get_backend() == "fused" and model.training  # restored after the export
    session = onnxruntime.InferenceSession(str(path))
    for batch in (shape[batch_dim], 7):
        x = torch.rand(*shape[:batch_dim], batch, *shape[batch_dim + 1 :]) * 2
        (actual,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
        with torch.no_grad():
            expected = model(x)
        if name == "hybrid":
            assert_close(name, torch.from_numpy(actual), expected, atol=1e-5)
        else:
            assert_equal(name, torch.from_numpy(actual), expected)
        assert np.isfinite(actual).all()


def test_fused_op_alone_is_not_onnx():
    # why to_onnx exists: the fused op has no ONNX translation
    model = nn.Sequential(nn.Linear(6, 9), hnn.LIF())
    with pytest.raises(Exception, match="hnn_fast"):
        torch.onnx.export(model, (torch.rand(4, 2, 6),), dynamo=True)
