"""Hybrid-unit modules: designable round trips, learnability, modulation feeding LIF, replaceable stages."""

import pytest
import torch
from torch import nn

from hnn_fast import ops
from hnn_fast.nn import (
    A2SHU,
    LIF,
    S2AHU,
    Binarize,
    Encoder,
    HybridUnit,
    LearnableSampler,
    ModulationHU,
    WindowFilter,
)


def test_designable_rate_round_trip_error_falls_with_T():
    image = torch.rand(1, 16, 16, generator=torch.Generator().manual_seed(0))
    errors = []
    for T in (4, 16, 64):
        spikes = A2SHU(T, "rate")(image)  # [T, 1, 16, 16]
        decoded = S2AHU(window=T)(spikes)[0]  # the mean over all T steps
        errors.append((decoded - image).abs().max().item())
        print(f"T={T}: max reconstruction error {errors[-1]:.4f} (bound 1/T = {1 / T:.4f})")
        assert set(spikes.unique().tolist()) <= {0.0, 1.0}
        assert errors[-1] < 1 / T
    assert errors[0] > errors[1] > errors[2]


def test_learnable_s2a_decodes_latency_code():
    torch.manual_seed(0)
    T = 8
    hu = S2AHU(
        window=T, learn_kernel=True, nonlinearity=nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 1))
    )
    opt = torch.optim.Adam(hu.parameters(), lr=0.02)

    def batch(n=128):
        v = torch.rand(n, 1) * 0.95 + 0.05
        return v, ops.hu_encode(v, T, mode="latency")  # a known code: the spike time carries v

    v, spikes = batch()
    first = nn.functional.mse_loss(hu(spikes)[0], v).item()
    for _ in range(150):
        v, spikes = batch()
        loss = nn.functional.mse_loss(hu(spikes)[0], v)
        opt.zero_grad()
        loss.backward()
        opt.step()
    v, spikes = batch(512)
    with torch.no_grad():
        final = nn.functional.mse_loss(hu(spikes)[0], v).item()
    # a mean kernel sees one spike per train whatever v is; the learned kernel must weigh spike times
    print(f"latency decoding MSE {first:.4f} -> {final:.5f}; learned kernel {hu.window_filter.weights.data}")
    assert final < 0.005 < first


def test_learnable_a2s_hits_target_counts():
    torch.manual_seed(0)
    T = 16
    w_true = torch.tensor([[1.5], [-1.0], [0.5], [2.0]])
    hu = A2SHU(T, "rate", nonlinearity=nn.Sequential(nn.Linear(4, 1), nn.Sigmoid()))
    opt = torch.optim.Adam(hu.parameters(), lr=0.05)

    def batch(n=256):
        x = torch.randn(n, 4)
        return x, torch.floor(T * torch.sigmoid(x @ w_true + 0.2))

    x, target = batch()
    first = (hu(x).sum(0) - target).abs().mean().item()
    for _ in range(300):
        x, target = batch()
        loss = ((hu(x).sum(0) - target) / T).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    x, target = batch(1024)
    with torch.no_grad():
        final = (hu(x).sum(0) - target).abs().mean().item()
    print(f"mean spike-count error {first:.3f} -> {final:.3f}")
    assert final < 0.5 < first


def test_learnable_sampler_learns_a_new_code():
    torch.manual_seed(0)
    T = 8
    sampler = LearnableSampler(T)
    a = torch.rand(512)
    assert torch.equal(sampler(a).sum(0), torch.round(T * a))  # the thermometer initialisation
    target = torch.round(T * a / 2)  # half the rate
    opt = torch.optim.Adam(sampler.parameters(), lr=0.02)
    first = (sampler(a).sum(0) - target).abs().mean().item()
    for _ in range(300):
        loss = (sampler(a).sum(0) - target).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        final = (sampler(a).sum(0) - target).abs().mean().item()
    print(f"learnable sampler count error {first:.3f} -> {final:.3f}")
    assert final < 0.25 < first
    a_in = torch.rand(4, 3, requires_grad=True)
    sampler(a_in).sum().backward()
    assert a_in.grad is not None and sampler.weight.grad is not None and sampler.bias.grad is not None


def test_modulation_feeds_lif_threshold():
    torch.manual_seed(0)
    hu = ModulationHU(6, 10, k=4.0, scale=1.0, offset=0.5)
    features = torch.randn(3, 6)
    threshold = hu(features)
    assert threshold.shape == (3, 10) and threshold.min() > 0.5 and threshold.max() < 1.5
    lif = LIF(decay=0.5)
    x = torch.rand(5, 3, 10) * 2
    spikes = lif(x, threshold=threshold)
    assert spikes.shape == (5, 3, 10)
    spikes.sum().backward()
    assert hu.nonlinearity[0].weight.grad.abs().sum() > 0
    # a different threshold per sample changes the spikes
    assert not torch.equal(spikes, lif(x, threshold=torch.full((3, 10), 0.5)))

    gate = ModulationHU(6, (2, 5), binarize=True)
    g = gate(features)
    assert g.shape == (3, 2, 5) and set(g.unique().tolist()) <= {0.0, 1.0}
    g.sum().backward()  # straight-through
    assert gate.nonlinearity[0].weight.grad.abs().sum() > 0


def test_stages_are_modules_and_replaceable():
    hu = HybridUnit(window=4, kernel="exp", decay=0.5, nonlinearity="relu")
    assert isinstance(hu.window_filter, WindowFilter)
    assert list(hu.parameters()) == []  # designable: every parameter fixed
    x = (torch.rand(12, 2, 3) < 0.5).float()
    expected = ops.hu_window(x, 4, kernel="exp", decay=0.5).relu()
    assert torch.equal(hu(x), expected)
    hu.nonlinearity = nn.Sigmoid()
    assert torch.equal(hu(x), torch.sigmoid(ops.hu_window(x, 4, kernel="exp", decay=0.5)))
    hu.discretize = Binarize(0.6)
    assert set(hu(x).unique().tolist()) <= {0.0, 1.0}

    learn = HybridUnit(window=4, kernel="mean", learn_kernel=True, channels=2)
    assert [p.shape for p in learn.parameters()] == [(2, 4)]
    fused = HybridUnit(nonlinearity="sigmoid", discretize="poisson", T=6)
    assert isinstance(fused.discretize, Encoder) and fused.discretize.nonlinearity == "sigmoid"
    a = torch.randn(2, 3)
    fused.discretize.generator = torch.Generator().manual_seed(1)
    first = fused(a)
    fused.discretize.generator.manual_seed(1)
    assert torch.equal(first, fused(a))
    s2a_a2s = HybridUnit(window=3, nonlinearity="identity", discretize="rate", T=5)
    assert s2a_a2s(x).shape == (5, 4, 2, 3)


@pytest.mark.parametrize(
    "make,error,name",
    [
        (lambda: HybridUnit(discretize="rate"), ValueError, "T"),
        (lambda: HybridUnit(discretize="quantize", T=4), ValueError, "discretize"),
        (lambda: HybridUnit(nonlinearity="softplus"), ValueError, "nonlinearity"),
        (lambda: S2AHU(window=0), ValueError, "window"),
        (lambda: S2AHU(window=3, kernel="median"), ValueError, "kernel"),
        (lambda: A2SHU(4, "burst"), ValueError, "discretize"),
        (lambda: Encoder(4, "rate", "softplus"), ValueError, "nonlinearity"),
    ],
)
def test_bad_configuration(make, error, name):
    with pytest.raises(error, match=name):
        make()
