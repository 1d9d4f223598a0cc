"""hnn_fast.nn.LIF and LeakyIntegrator: parameters, learning, streaming state."""

import pytest
import torch

from hnn_fast import nn as hnn
from hnn_fast import ops


def test_lif_module_matches_op():
    x = torch.rand(10, 4, 6) * 1.5
    layer = hnn.LIF(decay=0.7, threshold=0.9, reset="soft", surrogate="atan")
    expected, _ = ops.lif(x, decay=0.7, threshold=0.9, reset="soft", surrogate="atan")
    assert torch.equal(layer(x), expected)


def test_learnable_per_channel_parameters_train():
    torch.manual_seed(0)
    layer = hnn.LIF(decay=0.5, threshold=1.0, param_shape=(4, 1), learn_decay=True, learn_threshold=True)
    assert layer.decay.shape == (4, 1) and torch.allclose(layer.decay, torch.tensor(0.5))
    x = torch.rand(12, 4, 8) * 1.2
    target_rate = torch.tensor([0.1, 0.3, 0.5, 0.7]).view(4, 1)
    opt = torch.optim.Adam(layer.parameters(), lr=0.05)
    losses = []
    for _ in range(60):
        rate = layer(x).mean(dim=(0, 2)).view(4, 1)
        loss = (rate - target_rate).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    assert losses[-1] < 0.25 * losses[0]
    assert ((layer.decay >= 0) & (layer.decay <= 1)).all()


def test_stateful_streaming_equals_one_call():
    x = torch.rand(20, 3, 5) * 1.5
    one = hnn.LIF(decay=0.8)(x)
    streaming = hnn.LIF(decay=0.8, stateful=True)
    assert torch.equal(torch.cat([streaming(x[:7]), streaming(x[7:])]), one)
    streaming.reset_state()
    assert torch.equal(streaming(x[:7]), one[:7])

    integ = hnn.LeakyIntegrator(decay=0.6, stateful=True)
    full = hnn.LeakyIntegrator(decay=0.6)(x)
    assert torch.equal(torch.cat([integ(x[:11]), integ(x[11:])]), full)


def test_threshold_given_per_call():
    x = torch.rand(6, 5) * 2
    layer = hnn.LIF(decay=0.5, threshold=1.0)
    th = torch.full((6, 5), 0.3)
    assert torch.equal(layer(x, threshold=th), ops.lif(x, decay=0.5, threshold=th)[0])


def test_leaky_integrator_learnable_decay_gets_gradient():
    layer = hnn.LeakyIntegrator(decay=0.9, param_shape=(5,), learn_decay=True)
    layer(torch.randn(8, 2, 5)).sum().backward()
    assert layer.decay_logit.grad is not None and layer.decay_logit.grad.abs().sum() > 0


def test_bad_module_arguments():
    with pytest.raises(ValueError, match=r"decay must be in \[0, 1\]"):
        hnn.LIF(decay=2.0)
    with pytest.raises(ValueError, match="reset must be"):
        hnn.LIF(reset="none")
    with pytest.raises(ValueError, match="surrogate must be one of"):
        hnn.LIF(surrogate="step")
