"""docs/migration.md, row by row: hnn_fast's LIF against snnTorch, SpikingJelly and Norse run on the same
input (the `peers` extra), spikes compared element by element, and the documented differences shown."""

import norse.torch as norse
import pytest
import snntorch as snn
import torch
from spikingjelly.activation_based import neuron as sj_neuron

from hnn_fast import nn as hnn

X = torch.rand(20, 8, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 1.5
AT_THRESHOLD = torch.ones(1, 1, dtype=torch.float64)  # one step whose charge equals the threshold


def snntorch_run(layer, x):
    mem, out = layer.init_leaky(), []
    for t in range(x.shape[0]):
        s, mem = layer(x[t], mem)
        out.append(s)
    return torch.stack(out)


def norse_run(cell, x):
    state, out = None, []
    for t in range(x.shape[0]):
        z, state = cell(x[t], state)
        out.append(z)
    return torch.stack(out)


@pytest.mark.parametrize(("mechanism", "reset"), [("zero", "hard"), ("subtract", "soft")])
def test_snntorch_leaky(mechanism, reset):
    peer = snntorch_run(snn.Leaky(beta=0.5, threshold=1.0, reset_mechanism=mechanism, reset_delay=False), X)
    assert torch.equal(peer, hnn.LIF(0.5, 1.0, reset=reset)(X))
    # snnTorch fires at mem > threshold, hnn_fast at h >= threshold
    leaky = snn.Leaky(beta=0.5, reset_mechanism=mechanism, reset_delay=False)
    assert snntorch_run(leaky, AT_THRESHOLD).item() == 0
    assert hnn.LIF(0.5, 1.0, reset=reset)(AT_THRESHOLD).item() == 1


def test_snntorch_delayed_subtract_differs():
    # snnTorch's default reset_delay=True subtracts the threshold one step later, undecayed
    peer = snntorch_run(snn.Leaky(beta=0.5, threshold=1.0, reset_mechanism="subtract"), X)
    assert not torch.equal(peer, hnn.LIF(0.5, 1.0, reset="soft")(X))


@pytest.mark.parametrize(("v_reset", "reset"), [(0.0, "hard"), (None, "soft")])
@pytest.mark.parametrize("node", ["LIFNode", "ParametricLIFNode"])
def test_spikingjelly(node, v_reset, reset):
    tau = {"LIFNode": {"tau": 2.0}, "ParametricLIFNode": {"init_tau": 2.0}}[node]
    peer = getattr(sj_neuron, node)(**tau, decay_input=False, v_reset=v_reset, step_mode="m")
    ours = hnn.LIF(1 - 1 / 2.0, 1.0, reset=reset, learn_decay=node == "ParametricLIFNode")
    assert torch.equal(peer(X).detach(), ours(X).detach())
    # both fire at >= threshold
    peer.reset()
    assert peer(AT_THRESHOLD).item() == 1 == ours(AT_THRESHOLD).item()


def test_norse_lif_box():
    dt, tau_mem_inv = 1e-3, 500.0
    params = norse.LIFBoxParameters(
        tau_mem_inv=torch.tensor(tau_mem_inv), v_th=torch.tensor(1.0), v_leak=torch.tensor(0.0)
    )
    peer = norse_run(norse.LIFBoxCell(params, dt=dt), X)
    a = dt * tau_mem_inv  # decay 1 - a, input scaled by a
    assert torch.equal(peer, hnn.LIF(1 - a, 1.0)(a * X))
    # Norse fires at v > threshold
    assert norse_run(norse.LIFBoxCell(params, dt=dt), AT_THRESHOLD / a).item() == 0


def snntorch_rleaky(mechanism, x, weight_scale=1.0):
    """snnTorch RLeaky(all_to_all=True) over x, and hnn_fast's RecurrentLIF with its weights: snnTorch's
    recurrent nn.Linear computes s W^T + b, so weight = W^T and the bias joins the input."""
    torch.manual_seed(0)
    peer = snn.RLeaky(
        beta=0.6, linear_features=16, all_to_all=True, reset_mechanism=mechanism, reset_delay=False
    )
    with torch.no_grad():
        peer.recurrent.weight.mul_(weight_scale)
    spikes = torch.stack([peer(x_t)[0] for x_t in x]).detach()
    ours = hnn.RecurrentLIF(16, 0.6, 1.0, reset={"zero": "hard", "subtract": "soft"}[mechanism])
    with torch.no_grad():
        ours.weight.copy_(peer.recurrent.weight.T)
    return spikes, ours(x + peer.recurrent.bias.detach())


def test_snntorch_rleaky():
    x = X.float()  # snnTorch's RLeaky keeps its initial state in fp32
    peer, ours = snntorch_rleaky("zero", x)
    assert peer.mean() > 0.1
    assert torch.equal(peer, ours)


def test_snntorch_rleaky_subtract():
    # equal while the membrane after a subtraction stays at or below the threshold ...
    peer, ours = snntorch_rleaky("subtract", X.float() * 0.4, weight_scale=0.5)
    assert peer.sum() > 0
    assert torch.equal(peer, ours)
    # ... above it, snnTorch carries a reset flag into the next step and subtracts once more, undecayed
    peer, ours = snntorch_rleaky("subtract", X.float())
    assert not torch.equal(peer, ours)
