"""Step modes and state: single-step calls against one multi-step call, reset/detach, buffers, errors."""

import subprocess
import sys

import pytest
import torch
from torch import nn

from hnn_fast import nn as hnn
from hnn_fast.options import RESETS, SURROGATE_ALPHA


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("surrogate", list(SURROGATE_ALPHA))
def test_single_step_calls_equal_one_multi_step_call(dtype, reset, surrogate):
    x = torch.rand(16, 3, 5, generator=torch.Generator().manual_seed(1), dtype=dtype) * 1.5
    args = dict(decay=0.8, threshold=0.9, reset=reset, surrogate=surrogate)
    multi = hnn.LIF(**args)(x)
    single = hnn.LIF(**args, step_mode="s")
    assert torch.equal(torch.stack([single(x[t]) for t in range(len(x))]), multi)
    integ = hnn.LeakyIntegrator(0.7, step_mode="s")
    assert torch.equal(torch.stack([integ(x[t]) for t in range(len(x))]), hnn.LeakyIntegrator(0.7)(x))


def test_single_step_backpropagates_through_time():
    x = torch.rand(6, 2, 3, requires_grad=True)
    lif = hnn.LIF(0.9, 0.5, step_mode="s", surrogate="atan")
    grad_multi = torch.autograd.grad(hnn.LIF(0.9, 0.5, surrogate="atan")(x)[-1].sum(), x)[0]
    grad_single = torch.autograd.grad(torch.stack([lif(x[t]) for t in range(6)])[-1].sum(), x)[0]
    torch.testing.assert_close(grad_single, grad_multi)
    assert grad_multi[0].abs().sum() > 0


def test_reset_and_detach_states_reach_every_submodule():
    net = nn.Sequential(
        hnn.TimeDistributed(nn.Linear(4, 6)), hnn.LIF(stateful=True), hnn.LeakyIntegrator(stateful=True)
    )
    net(torch.rand(5, 2, 4))
    assert all(m.v is not None for m in net if isinstance(m, hnn.StatefulModule))
    with pytest.raises(ValueError, match="reset_states"):
        net(torch.rand(5, 3, 4))  # a smaller or larger batch does not silently restart from rest
    hnn.reset_states(net)
    assert all(m.v is None for m in net if isinstance(m, hnn.StatefulModule))
    assert net(torch.rand(5, 3, 4)).shape == (5, 3, 6)
    lif = hnn.LIF(step_mode="s")
    lif(torch.rand(3, requires_grad=True) * 2)
    assert lif.v.grad_fn is not None
    hnn.detach_states(lif)
    assert lif.v.grad_fn is None


def test_state_is_a_non_persistent_buffer():
    lif = hnn.LIF(step_mode="s", learn_threshold=True)
    lif(torch.rand(2, 3))
    assert "v" not in lif.state_dict() and "threshold" in lif.state_dict()
    assert lif.double().v.dtype == torch.float64 and lif.half().v.dtype == torch.float16


def test_step_mode_and_bool_arguments_are_checked():
    with pytest.raises(ValueError, match="step_mode must be"):
        hnn.LIF(step_mode="multi")
    with pytest.raises(ValueError, match="stateful=False contradicts"):
        hnn.LIF(step_mode="s", stateful=False)
    for argument in ("detach_reset", "learn_decay", "learn_threshold", "stateful", "record_membrane"):
        with pytest.raises(TypeError, match=f"{argument} must be a bool"):
            hnn.LIF(**{argument: "False"})


def test_time_distributed_folds_time_into_batch():
    conv = nn.Conv2d(2, 3, 3, padding=1)
    x = torch.rand(4, 5, 2, 6, 6)
    y = hnn.TimeDistributed(conv)(x)
    assert torch.equal(y[2], conv(x[2])) and y.shape == (4, 5, 3, 6, 6)
    assert isinstance(hnn.TimeDistributed(conv, nn.ReLU()).module, nn.Sequential)
    with pytest.raises(ValueError, match=r"\[T, B, ...\]"):
        hnn.time_distributed(conv, torch.rand(3))


def test_import_without_the_extension_falls_back_to_reference():
    script = (
        "import importlib.abc, sys, warnings\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'hnn_fast._C': raise ImportError('not built')\n"
        "sys.meta_path.insert(0, Block())\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    import hnn_fast, torch\n"
        "assert len(w) == 1 and 'not built' in str(w[0].message) and 'make build' in str(w[0].message)\n"
        "assert hnn_fast.get_backend() == hnn_fast.build_info()['active_backend'] == 'reference'\n"
        "assert hnn_fast.nn.LIF()(torch.rand(3, 2)).shape == (3, 2)\n"
        "try:\n    hnn_fast.set_backend('fused')\n"
        "except RuntimeError as e:\n    assert 'not built' in str(e)\n"
        "else:\n    raise AssertionError('fused accepted')\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    forced = subprocess.run(
        [sys.executable, "-c", "import hnn_fast; print(hnn_fast.get_backend())"],
        env={"HNN_FAST_BACKEND": "reference", "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    assert forced.stdout.strip() == "reference" and "Warning" not in forced.stderr
