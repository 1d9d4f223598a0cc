"""Hybrid units in single-step mode: T calls of one step give what one multi-step call gives."""

import pytest
import torch
from torch import nn

from hnn_fast.nn import A2SHU, LIF, S2AHU, Encoder, HybridUnit, LearnableSampler, WindowFilter, reset_states

from helpers import assert_equal, assert_near


def stream(module, xs):
    """Every output of one single-step call per element of xs (None where the module emits nothing)."""
    return [module(x) for x in xs]


WINDOWS = [
    dict(window=4),
    dict(window=3, stride=1, kernel="sum"),
    dict(window=2, stride=3, kernel="exp", decay=0.6),
    dict(window=4, stride=2, kernel=torch.tensor([0.1, 0.7, -0.3, 1.2])),
    dict(window=3, learn_kernel=True, channels=5),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("config", range(len(WINDOWS)))
def test_s2ahu_single_steps_equal_one_multi_step_call(dtype, config):
    kwargs = WINDOWS[config]
    x = (torch.rand(12, 5, 7, generator=torch.Generator().manual_seed(config)) < 0.4).to(dtype)
    x.requires_grad_()
    # F is the identity: the fused W and H are bit for bit, while an ATen elementwise F (sigmoid) may
    # round one element differently on a [K, *shape] tensor than on a [*shape] one
    multi = S2AHU(**kwargs).to(dtype)
    single = S2AHU(**kwargs, step_mode="s").to(dtype)
    single.load_state_dict(multi.state_dict())
    expected = multi(x)
    outputs = stream(single, x)
    window, stride = multi.window_filter.window, multi.window_filter.stride
    emitted = [t for t, y in enumerate(outputs) if y is not None]
    assert emitted == [k * stride + window - 1 for k in range(expected.shape[0])]
    got = torch.stack([outputs[t] for t in emitted])
    assert_equal("window values", got, expected)
    (grad_multi,) = torch.autograd.grad(expected.square().sum(), x)
    (grad_single,) = torch.autograd.grad(got.square().sum(), x)
    # overlapping windows sum a step's gradient in another order: equal up to rounding
    assert_near("grad x", grad_single, grad_multi, dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("mode", ["rate", "poisson", "latency", "learnable"])
def test_a2shu_single_steps_equal_one_multi_step_call(dtype, mode):
    T = 6
    values = [torch.rand(3, 4, dtype=dtype, requires_grad=True) for _ in range(2)]
    multi = A2SHU(T, mode, nonlinearity="sigmoid").to(dtype)
    single = A2SHU(T, mode, nonlinearity="sigmoid", step_mode="s").to(dtype)
    single.load_state_dict(multi.state_dict())
    for hu in (multi, single):  # the same Poisson draws for both
        if mode == "poisson":
            hu.discretize.generator = torch.Generator().manual_seed(3)
    # two cycles: the first call of each codes a new value, the other T - 1 emit the rest of its train
    expected = torch.cat([multi(a) for a in values])
    got = torch.stack(stream(single, [a for a in values for _ in range(T)]))
    assert_equal("spikes", got, expected)
    weights = torch.rand(expected.shape, dtype=dtype)
    grads_multi = torch.autograd.grad((expected * weights).sum(), values)
    grads_single = torch.autograd.grad((got * weights).sum(), values)
    for g_single, g_multi in zip(grads_single, grads_multi):
        assert_equal("grad a", g_single, g_multi)


@pytest.mark.parametrize("reset", ["hard", "soft"])
def test_streaming_pipeline_equals_the_sequence_pipeline(reset):
    T, window = 8, 4

    def pipeline(step_mode):
        return nn.ModuleList(
            [
                A2SHU(T, "rate", step_mode=step_mode),
                LIF(0.8, 0.5, reset=reset, step_mode=step_mode),
                S2AHU(window, step_mode=step_mode),
            ]
        )

    a = torch.rand(2, 5, dtype=torch.float64)
    encode, lif, decode = pipeline("m")
    expected = decode(lif(encode(a)))
    encode, lif, decode = pipeline("s")
    outputs = [decode(lif(encode(a))) for _ in range(T)]
    assert [y is None for y in outputs] == [True, True, True, False] * 2
    assert torch.equal(torch.stack([y for y in outputs if y is not None]), expected)


def test_reset_states_restarts_windows_and_codes():
    hu = HybridUnit(window=2, discretize="rate", T=3, step_mode="s")  # S2S: windows of 2 steps, coded
    x = torch.rand(4, 6)
    assert hu(x[0]) is None
    assert hu.window_filter.steps == 1 and hu.window_filter.held.shape == (1, 6)
    reset_states(hu)
    assert hu.window_filter.steps == 0 and hu.window_filter.held is None
    assert hu(x[0]) is None
    first = hu(x[1])  # the first window is complete: its value is coded, step 0 of that train
    assert torch.equal(first, Encoder(3)(x[:2].mean(0))[0])
    encoder = Encoder(3, step_mode="s")
    assert [torch.equal(encoder(x[0]), Encoder(3)(x[0])[t]) for t in range(3)] == [True] * 3
    encoder.reset_state()
    assert encoder.steps == 0 and encoder.spikes is None


def test_single_step_errors_are_clear():
    hu = S2AHU(3, step_mode="s")
    hu(torch.rand(4, 2))
    with pytest.raises(ValueError, match=r"holds its state 'held' for inputs of shape \(4, 2\)"):
        hu(torch.rand(3, 2))
    enc = A2SHU(4, "rate", step_mode="s")
    enc(torch.rand(4, 2))
    with pytest.raises(ValueError, match=r"holds its state 'spikes' for inputs of shape \(4, 2\)"):
        enc(torch.rand(3, 2))
    with pytest.raises(ValueError, match="needs T >= 1"):
        Encoder(0, step_mode="s")
    with pytest.raises(ValueError, match="needs a discretize module of the same step_mode"):
        A2SHU(4, LearnableSampler(4), step_mode="s")
    with pytest.raises(ValueError, match="step_mode must be 'm' or 's'"):
        WindowFilter(2, step_mode="single")


def test_single_step_state_follows_the_module():
    hu = A2SHU(4, "learnable", sampler={"param_shape": (3,)}, step_mode="s")
    hu(torch.rand(2, 3))
    assert "spikes" not in hu.state_dict() and "discretize.spikes" not in hu.state_dict()
    hu.double()
    assert hu.discretize.spikes.dtype == torch.float64
    assert "step_mode='s'" in repr(hu) and "LearnableSampler" in repr(hu)
