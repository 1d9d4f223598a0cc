"""NIR graphs: hnn_fast -> nir.write -> nir.read -> hnn_fast gives the same model and the same spikes;
the neuron mapping (tau, r, v_leak, v_threshold, v_reset for a time step dt); graphs written by other
tools; what has no NIR form is refused by name."""

import nir
import norse.torch as norse
import numpy as np
import pytest
import torch
from torch import nn

from hnn_fast import nn as hnn
from hnn_fast.nir import DEFAULT_DT, InputGain, NIRGraphModule, from_nir, to_nir

from helpers import assert_close, assert_equal


def snn():
    return nn.Sequential(nn.Linear(6, 9), hnn.LIF(0.7, 0.9), nn.Linear(9, 4), hnn.LeakyIntegrator(0.8))


def learned():
    return nn.Sequential(
        nn.Linear(6, 9, bias=False),
        hnn.LIF(0.6, 1.2, param_shape=(9,), learn_decay=True, learn_threshold=True, v_reset=-0.1),
        nn.Linear(9, 4),
        hnn.LIF(1.0, 0.5),  # decay 1: an IF neuron
        nn.Linear(4, 4),
        hnn.LeakyIntegrator(1.0, learn_decay=False),  # an integrator
    )


def conv():
    return nn.Sequential(
        hnn.TimeDistributed(nn.Conv2d(2, 4, 3, padding=1)),
        hnn.LIF(0.5),
        hnn.TimeDistributed(nn.AvgPool2d(2)),
        nn.Flatten(2),
        nn.Linear(4 * 4 * 4, 5),
        hnn.LIF(0.8, surrogate="atan"),
    )


def recurrent():
    return nn.Sequential(
        nn.Linear(6, 7),
        hnn.RecurrentLIF(7, 0.7, 0.9, param_shape=(7,), learn_decay=True, learn_threshold=True, v_reset=-0.1),
        nn.Linear(7, 4),
        hnn.RecurrentLIF(4, 1.0, 0.6, weight_scale=2.0),  # decay 1: an IF neuron with a recurrent Linear
    )


def hybrid():  # ANN -> A2S HU -> SNN -> S2A HU -> ANN, on [B, 6]
    return nn.Sequential(
        nn.Linear(6, 8),
        hnn.A2SHU(12, "rate", nonlinearity="sigmoid"),
        nn.Linear(8, 8),
        hnn.LIF(0.7, 0.9),
        hnn.S2AHU(4, 2, kernel="exp", decay=0.5, drop_last=False),
        nn.Linear(8, 3),
    )


def learnable_hybrid():
    return nn.Sequential(
        nn.Linear(6, 8),
        hnn.A2SHU(10, "learnable"),
        hnn.LIF(0.9, learn_threshold=True, param_shape=(8,)),
        hnn.S2AHU(5, kernel="mean", learn_kernel=True, channels=None, nonlinearity="tanh"),
        hnn.LeakyIntegrator(0.5),
    )


MODELS = {
    "snn": (snn, (10, 3, 6)),
    "learned": (learned, (12, 3, 6)),
    "conv": (conv, (6, 2, 2, 8, 8)),
    "recurrent": (recurrent, (15, 3, 6)),
    "hybrid": (hybrid, (3, 6)),
    "learnable-hybrid": (learnable_hybrid, (3, 6)),
}


def perturb(model):
    # parameters away from their initial values, so that the round trip is tested on trained-like ones
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)


@pytest.mark.parametrize("name", list(MODELS))
def test_round_trip_through_file(name, tmp_path, one_thread):
    make, shape = MODELS[name]
    torch.manual_seed(0)
    model = make()
    perturb(model)
    x = torch.rand(shape) * 1.5
    path = tmp_path / "model.nir"
    nir.write(path, to_nir(model, x))
    back = from_nir(path)
    assert [type(m) for m in back] == [type(m) for m in model]
    expected, actual = model.state_dict(), back.state_dict()
    assert list(actual) == [k.replace(k.split(".")[0], f"_{k.split('.')[0]}", 1) for k in expected]
    for (k, a), e in zip(actual.items(), expected.values()):
        assert_equal(k, a, e)
    for T_or_B in (shape, (shape[0] + 3, *shape[1:])):  # another T (or B for the hybrid models)
        x = torch.rand(T_or_B) * 1.5
        with torch.no_grad():
            assert_equal(name, back(x), model(x))


def test_neuron_mapping():
    dt = 2e-3
    model = nn.Sequential(
        nn.Linear(3, 4), hnn.LIF(0.75, 0.8, v_reset=0.1), nn.Linear(4, 4), hnn.LeakyIntegrator(0.5)
    )
    graph = to_nir(model, torch.rand(5, 2, 3), dt=dt)
    lif, li = graph.nodes["_1"], graph.nodes["_3"]
    assert isinstance(lif, nir.LIF) and isinstance(li, nir.LI)
    np.testing.assert_allclose(lif.tau, np.full(4, dt / 0.25))
    np.testing.assert_allclose(lif.r, np.full(4, 1 / 0.25))  # dt r / tau = 1: the input enters as is
    np.testing.assert_array_equal(lif.v_leak, np.zeros(4))
    np.testing.assert_allclose(lif.v_threshold, np.full(4, 0.8))
    np.testing.assert_allclose(lif.v_reset, np.full(4, 0.1))
    np.testing.assert_allclose(li.tau, np.full(4, dt / 0.5))
    assert isinstance(graph.nodes["_0"], nir.Affine)
    integrate = to_nir(nn.Sequential(nn.Linear(3, 4), hnn.LIF(1.0)), torch.rand(2, 2, 3), dt=dt)
    assert isinstance(integrate.nodes["_1"], nir.IF)
    np.testing.assert_allclose(integrate.nodes["_1"].r, np.full(4, 1 / dt))


def euler_lif(x, tau, r, v_leak, v_th, v_reset, dt, leaky=True, w_rec=None, b_rec=0.0):
    """NIR's LIF, one forward Euler step per time step, from rest (v = v_leak), in float64; w_rec [n, n]
    (to, from) and b_rec: a recurrent Affine, its input the spikes of the step before."""
    v, spikes = np.broadcast_to(v_leak, x.shape[1:]).copy(), []
    s = np.zeros(x.shape[1:])
    for t in range(x.shape[0]):
        current = x[t] if w_rec is None else x[t] + s @ w_rec.T + b_rec
        v = v + dt / tau * (v_leak - v + r * current) if leaky else v + dt * r * current
        s = (v >= v_th).astype(np.float64)
        v = np.where(s > 0, v_reset, v)
        spikes.append(s)
    return np.stack(spikes)


def test_foreign_lif_with_gain_and_leak():
    # a graph as another tool writes it: per-neuron tau, r != tau/dt, a leak potential, no hnn_fast metadata
    rng = np.random.default_rng(0)
    n, dt = 5, 1e-3
    tau, r = rng.uniform(2e-3, 2e-2, n), rng.uniform(0.5, 3.0, n)
    v_leak, v_th, v_reset = np.full(n, 0.15), rng.uniform(0.5, 1.0, n), np.full(n, 0.05)
    graph = nir.NIRGraph.from_list(nir.LIF(tau=tau, r=r, v_leak=v_leak, v_threshold=v_th, v_reset=v_reset))
    model = from_nir(graph, dt=dt, dtype=torch.float64)
    assert isinstance(model[0], nn.Sequential) and isinstance(model[0][0], InputGain)
    x = rng.uniform(0, 2, (40, 3, n))
    with torch.no_grad():
        spikes = model(torch.from_numpy(x)).numpy()
    expected = euler_lif(x, tau, r, v_leak, v_th, v_reset, dt)
    assert spikes.sum() > 10
    np.testing.assert_array_equal(spikes, expected)
    # hnn_fast's LIF has one reset value: v_reset - v_leak must be the same for every neuron
    uneven = nir.LIF(tau=tau, r=r, v_leak=rng.uniform(-0.2, 0.2, n), v_threshold=v_th, v_reset=v_reset)
    with pytest.raises(ValueError, match="one v_reset - v_leak"):
        from_nir(nir.NIRGraph.from_list(uneven), dt=dt)


def unit_lif(n):
    """A NIR LIF that is hnn_fast's LIF(decay=0.5, threshold=1) at dt = 1 ms."""
    return nir.LIF(
        tau=np.full(n, 2e-3),
        r=np.full(n, 2.0),
        v_leak=np.zeros(n),
        v_threshold=np.ones(n),
        v_reset=np.zeros(n),
    )


def test_branches_are_summed():
    w1, w2 = np.eye(4, dtype=np.float32), 2 * np.eye(4, dtype=np.float32)
    lif = unit_lif(4)
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input({"input": np.array([4])}),
            "a": nir.Linear(w1),
            "b": nir.Linear(w2),
            "lif": lif,
            "output": nir.Output({"output": np.array([4])}),
        },
        edges=[("input", "a"), ("input", "b"), ("a", "lif"), ("b", "lif"), ("lif", "output")],
    )
    model = from_nir(graph, dt=1e-3)
    assert isinstance(model, NIRGraphModule)
    x = torch.rand(8, 2, 4)
    with torch.no_grad():
        assert_equal("branches", model(x), hnn.LIF(0.5, 1.0)(3 * x))


def rsnn_nodes(n, rng, neuron, dt):
    """A recurrent layer as another tool writes it: per-neuron tau and r, a leak potential, an Affine
    feeding the spikes back."""
    tau, r = rng.uniform(2e-3, 2e-2, n), rng.uniform(0.5, 3.0, n)
    fields = {"v_threshold": rng.uniform(0.5, 1.0, n), "v_reset": np.full(n, 0.05)}
    if neuron is nir.LIF:
        lif = nir.LIF(tau=tau, r=r, v_leak=np.full(n, 0.15), **fields)
    else:
        lif = nir.IF(r=r / dt, **fields)
    w_rec = nir.Affine(weight=rng.normal(0, 0.6, (n, n)), bias=rng.uniform(-0.2, 0.2, n))
    return lif, w_rec


@pytest.mark.parametrize("neuron", [nir.LIF, nir.IF])
@pytest.mark.parametrize("form", ["subgraph", "inline"])
def test_foreign_recurrent_layer(neuron, form, tmp_path):
    """A LIF or IF whose spikes return to it through its own Affine is a RecurrentLIF, whether the cycle
    is a subgraph (NIR's RSNN, snnTorch's RLeaky) or written into the graph itself (snnTorch's older
    exporter), with the NIR dynamics: the recurrent input uses the spikes of the step before."""
    rng = np.random.default_rng(1)
    n, dt = 5, 1e-3
    lif, w_rec = rsnn_nodes(n, rng, neuron, dt)
    w_in = rng.uniform(0, 1, (n, 3))
    cycle = [("lif", "w_rec"), ("w_rec", "lif")]
    io = {"input": nir.Input({"input": np.array([3])}), "output": nir.Output({"output": np.array([n])})}
    if form == "subgraph":
        layer = nir.NIRGraph(
            nodes={
                "input": nir.Input({"input": np.array([n])}),
                "lif": lif,
                "w_rec": w_rec,
                "output": nir.Output({"output": np.array([n])}),
            },
            edges=[("input", "lif"), *cycle, ("lif", "output")],
            type_check=False,
        )
        nodes, edges = {"w_in": nir.Linear(w_in), "layer": layer}, [("w_in", "layer")]
        edges += [("input", "w_in"), ("layer", "output")]
    else:
        nodes = {"w_in": nir.Linear(w_in), "lif": lif, "w_rec": w_rec}
        edges = [("input", "w_in"), ("w_in", "lif"), *cycle, ("lif", "output")]
    nir.write(tmp_path / "rsnn.nir", nir.NIRGraph(nodes={**io, **nodes}, edges=edges, type_check=False))
    model = from_nir(tmp_path / "rsnn.nir", dt=dt, dtype=torch.float64)
    gain, layer = model[1]
    assert isinstance(gain, InputGain) and type(layer) is hnn.RecurrentLIF and len(model) == 2
    x = rng.uniform(0, 2, (50, 3, 3))
    with torch.no_grad():
        spikes = model(torch.from_numpy(x)).numpy()
    leak = (lif.tau, lif.r, lif.v_leak) if neuron is nir.LIF else (1.0, lif.r, np.zeros(n))
    expected = euler_lif(
        x @ w_in.T, *leak, lif.v_threshold, lif.v_reset, dt, neuron is nir.LIF, w_rec.weight, w_rec.bias
    )
    assert 20 < spikes.sum() < spikes.size - 20
    np.testing.assert_array_equal(spikes, expected)


def test_other_cycles_are_refused():
    lif = unit_lif(2)
    io = {"input": nir.Input({"input": np.array([2])}), "output": nir.Output({"output": np.array([2])})}
    li = nir.LI(tau=np.full(2, 2e-3), r=np.full(2, 2.0), v_leak=np.zeros(2))
    cycles = {  # a leaky integrator does not spike; a loop through two layers is not one recurrent layer
        "LI": (
            {"li": li, "w": nir.Linear(np.eye(2))},
            [("input", "li"), ("li", "w"), ("w", "li"), ("li", "output")],
        ),
        "two layers": (
            {"lif": lif, "a": nir.Linear(np.eye(2)), "li": li, "b": nir.Linear(np.eye(2))},
            [("input", "lif"), ("lif", "a"), ("a", "li"), ("li", "b"), ("b", "lif"), ("lif", "output")],
        ),
    }
    for nodes, edges in cycles.values():
        graph = nir.NIRGraph(nodes={**io, **nodes}, edges=edges, type_check=False)
        with pytest.raises(NotImplementedError, match=r"recurrent connection .* not a recurrent layer"):
            from_nir(graph)
    with pytest.raises(
        ValueError, match=r"recurrent Linear of a layer of 2 neurons must have a weight \[2, 2\]"
    ):
        from_nir(
            nir.NIRGraph(
                nodes={**io, "lif": lif, "w": nir.Linear(np.ones((2, 3)))},
                edges=[("input", "lif"), ("lif", "w"), ("w", "lif"), ("lif", "output")],
                type_check=False,
            )
        )
    with pytest.raises(ValueError, match=r"RecurrentLIF\(4\) exports to NIR on inputs \[T, B, 4\]"):
        to_nir(hnn.RecurrentLIF(4), torch.rand(3, 2, 5, 4))


def test_recurrent_layer_written_as_nir_rsnn():
    """The layer is a subgraph LIF -> Linear -> LIF with NIR's [to, from] weight, as snnTorch writes its
    RLeaky, and keeps its exact state when a tool leaves the graph as it was."""
    torch.manual_seed(0)
    layer = hnn.RecurrentLIF(4, 0.75, 0.8)
    graph = to_nir(nn.Sequential(nn.Linear(3, 4), layer), torch.rand(5, 2, 3))
    sub = graph.nodes["_1"]
    assert set(sub.edges) == {("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")}
    assert isinstance(sub.nodes["lif"], nir.LIF) and isinstance(sub.nodes["w_rec"], nir.Linear)
    np.testing.assert_array_equal(sub.nodes["w_rec"].weight, layer.weight.detach().numpy().T)
    restored = from_nir(graph)[1]
    assert type(restored) is hnn.RecurrentLIF and restored.features == 4
    assert_equal("recorded weight", restored.weight, layer.weight)
    # an edited recurrent weight is read from the graph, not from the record
    sub.nodes["w_rec"].weight = sub.nodes["w_rec"].weight * 2
    edited = from_nir(graph)[1]
    assert_equal("edited weight", edited.weight, 2 * layer.weight.detach())


def test_what_nir_cannot_hold_is_refused():
    x = torch.rand(4, 2, 3)
    with pytest.raises(ValueError, match=r"reset='soft'.*no NIR form"):
        to_nir(nn.Sequential(nn.Linear(3, 3), hnn.LIF(reset="soft")), x)
    with pytest.raises(ValueError, match=r"1 \(ReLU\) has no NIR form"):
        to_nir(nn.Sequential(nn.Linear(3, 3), nn.ReLU()), x)
    with pytest.raises(ValueError, match="CubaLIF"):
        n = np.ones(3)
        from_nir(nir.NIRGraph.from_list(nir.CubaLIF(tau_syn=n, tau_mem=n, r=n, v_leak=0 * n, v_threshold=n)))
    graph = nir.NIRGraph.from_list(
        nir.LIF(tau=np.full(3, 1e-4), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3))
    )
    with pytest.raises(ValueError, match="dt must be at most tau"):
        from_nir(graph, dt=1e-3)


def test_default_dt_is_recorded():
    graph = to_nir(snn(), torch.rand(3, 2, 6), dt=5e-4)
    model = from_nir(graph, dt=None)
    torch.testing.assert_close(torch.tensor(model[1].decay), torch.tensor(0.7))
    assert DEFAULT_DT == 1e-3


# ---- graphs written by Norse ---------------------------------------------------------------------------


def test_norse_graph_gives_norse_spikes(one_thread):
    """Norse 1.1's to_nir writes tau = dt / tau_mem_inv (dt times the membrane time constant, where NIR
    means the time constant), and its LIF update v += dt tau_mem_inv (v_leak - v + i) is NIR's with r = 1:
    read with dt = (Norse's dt)^2 the graph gives Norse's dynamics. Norse fires at v > v_th, hnn_fast at
    v >= v_th; Norse writes tau in float32, so dt and tau_mem_inv are powers of two here, for which the
    float32 tau is exact (with tau_mem_inv = 150, the graph's decay is 0.85000001 and a few spikes in a
    thousand differ after tens of steps). Run in float64, no membrane lands on the threshold itself and
    the spikes are equal."""
    torch.manual_seed(0)
    dt = 2.0**-10
    net = norse.SequentialState(
        nn.Linear(5, 7),
        norse.LIFBoxCell(
            norse.LIFBoxParameters(tau_mem_inv=torch.tensor(128.0), v_leak=torch.tensor(0.25)), dt=dt
        ),
        nn.Linear(7, 3),
        norse.LIBoxCell(norse.LIBoxParameters(tau_mem_inv=torch.tensor(64.0)), dt=dt),
    ).double()
    graph = norse.to_nir(net, torch.randn(1, 5, dtype=torch.float64), dt=dt)
    model = from_nir(graph, dt=dt * dt, dtype=torch.float64)
    x = torch.rand(60, 4, 5, dtype=torch.float64) * 4
    with torch.no_grad():
        norse_out, state = [], None
        for t in range(x.shape[0]):
            out, state = net(x[t], state)
            norse_out.append(out)
        norse_out = torch.stack(norse_out)
        # the spikes of Norse's LIF layer: run its first two modules step by step
        lif_spikes, s = [], None
        for t in range(x.shape[0]):
            z, s = net[1](net[0](x[t]), s)
            lif_spikes.append(z)
        lif_spikes = torch.stack(lif_spikes)
        ours_spikes = model[1](model[0](x))
        ours_out = model(x)
    assert lif_spikes.sum() > 20
    assert_equal("norse LIF spikes", ours_spikes, lif_spikes)
    assert_close("norse LI readout", ours_out, norse_out, atol=1e-12)
