"""RecurrentLIF: the op through a module, its step modes, state handling and learning."""

import pytest
import torch

from hnn_fast import nn as hnn
from hnn_fast import reference

from helpers import assert_close, assert_equal


def make(step_mode="m", **options):
    torch.manual_seed(0)
    return hnn.RecurrentLIF(12, decay=0.7, threshold=0.8, weight_scale=2.0, step_mode=step_mode, **options)


def inputs(T=20, batch=(3,)):
    g = torch.Generator().manual_seed(1)
    return torch.rand((T, *batch, 12), generator=g)


def test_matches_reference_with_batch_dims():
    layer = make()
    x = inputs(batch=(2, 3))
    s = layer(x)
    s_ref, _ = reference.lif_recurrent(x.view(20, 6, 12), layer.weight.detach(), decay=0.7, threshold=0.8)
    assert 0 < s.mean() < 1
    assert_equal("spikes", s, s_ref.view(x.shape))


def test_single_step_calls_equal_one_multistep_call():
    x = inputs()
    multi, single = make(), make("s")
    s_multi = multi(x)
    s_single = torch.stack([single(x_t) for x_t in x])
    assert_equal("spikes", s_single, s_multi)
    # gradients flow through the held state of the single-step module across the T calls
    s_single.sum().backward()
    s_multi.sum().backward()
    assert_close("grad weight", single.weight.grad, multi.weight.grad, atol=1e-5, rtol=1e-5)


def test_streaming_and_reset_states():
    x = inputs()
    layer = make(stateful=True)
    s_chunks = torch.cat([layer(x[:9]), layer(x[9:])])
    assert_equal("spikes", s_chunks, make()(x))
    assert layer.v is not None and layer.s is not None
    assert "v" not in layer.state_dict() and "s" not in layer.state_dict()
    hnn.reset_states(layer)
    assert layer.v is None and layer.s is None
    with pytest.raises(ValueError, match="reset_states"):
        layer(x[:2]), layer(inputs(batch=(5,)))


def test_learns_the_recurrent_weight():
    """A target the input alone cannot produce: neuron 0 must fire one step after neuron 1."""
    layer = make(surrogate="fast_sigmoid")
    x = torch.zeros(10, 4, 12)
    x[::3, :, 1] = 1.0
    target = torch.zeros_like(x)
    target[1::3, :, 0] = 1.0
    target[::3, :, 1] = 1.0
    opt = torch.optim.Adam(layer.parameters(), lr=0.05)
    first = None
    for _ in range(60):
        loss = (layer(x) - target).square().mean()
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.25 * first


def test_bad_arguments():
    with pytest.raises(ValueError, match="features must be a positive int"):
        hnn.RecurrentLIF(0)
    with pytest.raises(ValueError, match="features = 12"):
        make()(torch.rand(5, 3, 11))
