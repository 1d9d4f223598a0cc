"""Recording, validation, repr and the hybrid-unit conveniences: keep_window_dim, the sampler's options,
the latency decoder, modulation of decay."""

import pytest
import torch

from hnn_fast import nn as hnn
from hnn_fast import ops, reference, set_backend


@pytest.mark.parametrize("reset", ["hard", "soft"])
def test_recorded_membrane_is_the_charge_on_both_backends(reset):
    x = torch.rand(9, 4, 3, dtype=torch.float64) * 1.5
    fused = hnn.LIF(0.7, 0.8, reset=reset, record_membrane=True)
    spikes = fused(x)
    assert torch.equal(spikes, ops.lif(x, decay=0.7, threshold=0.8, reset=reset)[0])
    # the charge crosses the threshold exactly where a spike is emitted
    assert torch.equal(spikes.bool(), fused.membrane >= 0.8)
    set_backend("reference")
    try:
        slow = hnn.LIF(0.7, 0.8, reset=reset, record_membrane=True)
        slow(x)
    finally:
        set_backend("fused")
    torch.testing.assert_close(slow.membrane, fused.membrane)
    assert reference.lif(x, decay=0.7, threshold=0.8, reset=reset)[0].shape == fused.membrane.shape


def test_tensor_parameters_are_validated_like_floats():
    for bad in (1.5, torch.tensor([0.5, 1.5]), -0.1):
        with pytest.raises(ValueError, match=r"decay must be in \[0, 1\]"):
            hnn.LIF(decay=bad)
        with pytest.raises(ValueError, match=r"decay must be in \[0, 1\]"):
            hnn.LeakyIntegrator(decay=bad)
    for bad in (-1.0, 0.0, torch.tensor([1.0, -0.5])):
        with pytest.raises(ValueError, match="threshold must be > 0"):
            hnn.LIF(threshold=bad)
    with pytest.raises(TypeError, match="decay must be a float or a tensor"):
        hnn.LIF(decay="0.5")
    lif = hnn.LIF(decay=torch.tensor([0.2, 0.9]), threshold=0.7)
    assert torch.equal(
        lif(torch.ones(3, 2)), ops.lif(torch.ones(3, 2), decay=torch.tensor([0.2, 0.9]), threshold=0.7)[0]
    )
    text = repr(lif)
    assert "decay=tensor (2,)" in text and "threshold=0.7" in text and "step_mode='m'" in text


def test_decay_given_per_call_is_clamped():
    x = torch.rand(5, 2, 3) * 2
    gate = torch.tensor([[0.1, 0.5, 2.0], [0.3, 0.9, -1.0]])
    expected = ops.lif(x, decay=gate.clamp(0, 1))[0]
    assert torch.equal(hnn.LIF()(x, decay=gate), expected)


def test_s2ahu_single_window_without_its_dim():
    spikes = torch.rand(8, 3, 4).round()
    assert torch.equal(hnn.S2AHU(window=8, keep_window_dim=False)(spikes), hnn.S2AHU(window=8)(spikes)[0])
    with pytest.raises(ValueError, match="2 windows"):
        hnn.S2AHU(window=4, keep_window_dim=False)(spikes)


def test_a2shu_configures_its_learnable_sampler():
    hu = hnn.A2SHU(6, "learnable", sampler={"param_shape": (3,), "surrogate": "atan"})
    assert hu.discretize.weight.shape == (6, 3) and hu.discretize.surrogate == "atan"
    assert hu(torch.rand(2, 3)).shape == (6, 2, 3)
    with pytest.raises(ValueError, match="sampler configures mode='learnable'"):
        hnn.A2SHU(6, "rate", sampler={"param_shape": (3,)})


@pytest.mark.parametrize("T", [1, 2, 8, 33])
def test_latency_round_trip_within_half_a_step(T):
    values = torch.rand(500, dtype=torch.float64)
    decoded = hnn.LatencyDecoder()(hnn.A2SHU(T, "latency")(values))
    step = 1 / max(T - 1, 1)
    print(f"T={T}: max error {(decoded - values).abs().max():.4f}, one step {step:.4f}")
    assert ((decoded - values).abs() <= 0.5 * step + 1e-12).all() or T == 1
    assert ((decoded - values).abs() < step).all()


@pytest.mark.parametrize("step_mode", ["m", "s"])
def test_recorded_membrane_trains_like_the_spikes(step_mode):
    # a loss on the recorded membrane reaches the input through the fused backward, as through the
    # reference on the same values
    x = torch.rand(6, 3, 4, dtype=torch.float64) * 1.5
    grads = {}
    for backend in ("fused", "reference"):
        set_backend(backend)
        try:
            xb = x.clone().requires_grad_()
            lif = hnn.LIF(0.7, 0.8, reset="soft", record_membrane=True, step_mode=step_mode)
            if step_mode == "m":
                spikes, membrane = lif(xb), lif.membrane
            else:
                steps = [(lif(xb[t]), lif.membrane) for t in range(len(xb))]
                spikes, membrane = (torch.stack(z) for z in zip(*steps))
            (spikes.sum() + membrane.square().sum()).backward()
            grads[backend] = xb.grad
        finally:
            set_backend("fused")
    torch.testing.assert_close(grads["fused"], grads["reference"], atol=1e-12, rtol=1e-12)
    assert grads["fused"].abs().sum() > 0
