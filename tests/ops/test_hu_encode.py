"""hu_encode (fused sampler + F + Q of a values-to-spikes hybrid unit) against
hnn_fast.reference.hu_encode."""

import pytest
import torch

from hnn_fast import ops, reference

from helpers import TOL, assert_close, assert_equal, assert_near, reference_dtype

MODES = ["rate", "poisson", "latency"]
NONLINEARITIES = ["identity", "sigmoid", "relu", "tanh", "hardtanh"]


def values(*shape, dtype=torch.float32, device="cpu", seed=0):
    gen = torch.Generator().manual_seed(seed)
    a = torch.rand(*shape, generator=gen) * 1.6 - 0.3  # covers both sides of the clamp
    a.view(-1)[:3] = torch.tensor([0.0, 1.0, 0.5])
    return a.to(device, dtype)


def encode(fn, a, T, mode, nonlinearity, seed=7):
    gen = torch.Generator().manual_seed(seed)
    return fn(a, T, mode=mode, nonlinearity=nonlinearity, generator=gen)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
def test_forward_matches_reference(device, mode, nonlinearity):
    a = values(4, 6, device=device)
    s = encode(ops.hu_encode, a, 9, mode, nonlinearity)
    ref = encode(reference.hu_encode, a, 9, mode, nonlinearity)
    assert s.shape == (9, 4, 6) and s.dtype == a.dtype
    assert_equal(f"{mode}/{nonlinearity}", s, ref)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("mode", MODES)
def test_dtypes(device, dtype, mode):
    a = values(3, 5, dtype=dtype, device=device)
    s = encode(ops.hu_encode, a, 8, mode, "sigmoid")
    # the reference sees the same (rounded) values in the compute dtype: spikes must agree exactly
    ref = encode(reference.hu_encode, a.to(reference_dtype(dtype)), 8, mode, "sigmoid")
    assert s.dtype == dtype
    assert_equal(f"{mode} {dtype}", s, ref)


def test_rate_code_counts_and_spread(device):
    p = torch.linspace(0, 1, 23, device=device)
    T = 16
    s = ops.hu_encode(p, T)
    assert torch.equal(s.sum(0), torch.floor(T * p))
    # evenly spread: after t + 1 steps the count is floor((t + 1) p)
    steps = torch.arange(1, T + 1, dtype=torch.float32, device=device).unsqueeze(1)
    assert torch.equal(s.cumsum(0), torch.floor(steps * p))


def test_latency_code(device):
    p = torch.tensor([0.0, 1.0, 0.5, 0.25, 0.9], device=device)
    s = ops.hu_encode(p, 5, mode="latency")
    assert s.sum(0).tolist() == [0.0, 1.0, 1.0, 1.0, 1.0]
    assert s.argmax(0)[1:].tolist() == [0, 2, 3, 0]  # round((1 - p) * 4), half to even


def test_poisson_reproducible(device):
    # a generator on a's device, or a CPU one, which draws the same uniforms for every device
    a = torch.full((2000,), 0.3, device=device)
    for gen_device in {"cpu", device}:
        gen = torch.Generator(device=gen_device)
        first = ops.hu_encode(a, 5, mode="poisson", generator=gen.manual_seed(3))
        again = ops.hu_encode(a, 5, mode="poisson", generator=gen.manual_seed(3))
        assert torch.equal(first, again)
    first = ops.hu_encode(a, 5, mode="poisson", generator=torch.Generator().manual_seed(3))
    other = ops.hu_encode(a, 5, mode="poisson", generator=torch.Generator().manual_seed(4))
    assert not torch.equal(first, other)
    rate = first.mean().item()
    print(f"poisson rate {rate:.4f} for p = 0.3")
    assert abs(rate - 0.3) < 0.02
    torch.manual_seed(5)
    seeded = ops.hu_encode(a, 5, mode="poisson")
    torch.manual_seed(5)
    assert torch.equal(seeded, ops.hu_encode(a, 5, mode="poisson"))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("nonlinearity", ["identity", "sigmoid", "tanh", "hardtanh", "relu"])
def test_gradients_match_reference(device, mode, nonlinearity):
    a = values(4, 5, dtype=torch.float64, device=device)
    g = torch.randn(7, 4, 5, dtype=torch.float64, device=device)
    grads = []
    for fn in (ops.hu_encode, reference.hu_encode):
        ai = a.clone().requires_grad_()
        encode(fn, ai, 7, mode, nonlinearity).backward(g)
        grads.append(ai.grad)
    assert_close(f"grad {mode}/{nonlinearity}", grads[0], grads[1], atol=TOL[torch.float64])
    if mode != "latency":  # straight-through: T * F'(a) * mean grad where the clamp is inactive
        assert grads[0].abs().sum() > 0


def test_latency_surrogate_gives_spike_time_gradient(device):
    p = torch.tensor([0.3, 0.55, 0.8], dtype=torch.float64, device=device, requires_grad=True)
    T = 11
    s = ops.hu_encode(p, T, mode="latency")
    times = torch.arange(T, dtype=torch.float64, device=device).unsqueeze(1)
    (s * times).sum().backward()
    assert torch.allclose(p.grad, torch.full((3,), -(T - 1.0), dtype=torch.float64, device=device))
    p.grad = None
    ops.hu_encode(p, T, mode="latency").sum().backward()  # the count does not depend on p
    assert torch.equal(p.grad, torch.zeros(3, dtype=torch.float64, device=device))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_gradient_dtypes(device, dtype):
    a = values(3, 4, device=device)
    g = torch.randn(6, 3, 4, device=device)
    ai = a.to(dtype).requires_grad_()
    ops.hu_encode(ai, 6, nonlinearity="sigmoid").backward(g.to(dtype))
    ar = a.to(dtype).float().requires_grad_()
    reference.hu_encode(ar, 6, nonlinearity="sigmoid").backward(g.to(dtype).float())
    assert ai.grad.dtype == dtype
    assert_near(f"grad {dtype}", ai.grad, ar.grad, dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("mode", MODES)
def test_many_neurons_match_reference(device, dtype, mode):
    # More neurons than a CUDA block holds. identity: p is exact, so the spikes must agree bit for bit;
    # tanh (whose last bit may differ between math libraries) is checked through the gradient's tolerance.
    a = values(33, 70, dtype=dtype, device=device)
    g = torch.randn(12, 33, 70, device=device).to(dtype)
    for nonlinearity in ("identity", "tanh"):
        results = []
        for fn, dt in ((ops.hu_encode, dtype), (reference.hu_encode, reference_dtype(dtype))):
            ai = a.detach().to(dt).requires_grad_()
            s = encode(fn, ai, 12, mode, nonlinearity, seed=1)
            s.backward(g.to(dt))
            results.append((s, ai.grad))
        (s, grad), (s_ref, grad_ref) = results
        if nonlinearity == "identity":
            assert_equal(f"{mode} spikes", s, s_ref)
        assert_close(f"{mode} {nonlinearity} grad", grad, grad_ref, atol=TOL[dtype] * 12)


def test_non_contiguous_and_edge_sizes(device):
    base = values(6, 8, device=device)
    for a in (base.t(), base[::2], base[:, 1:5]):
        for mode in MODES:
            assert_equal(
                f"{mode} strides {a.stride()}",
                encode(ops.hu_encode, a, 5, mode, "identity"),
                encode(reference.hu_encode, a, 5, mode, "identity"),
            )
    a = values(3, device=device).requires_grad_()
    s = ops.hu_encode(a, 1, mode="latency")  # T = 1: every p > 0 fires at step 0
    assert torch.equal(s[0], (a.detach().clamp(0, 1) > 0).float())
    s.sum().backward()
    assert ops.hu_encode(a, 0).shape == (0, 3)
    empty = torch.rand(0, 4, device=device, requires_grad=True)
    out = ops.hu_encode(empty, 5, mode="poisson")
    assert out.shape == (5, 0, 4)
    out.sum().backward()
    assert empty.grad.shape == empty.shape
    scalar = torch.tensor(0.5, device=device)
    assert ops.hu_encode(scalar, 4).tolist() == [0.0, 1.0, 0.0, 1.0]


def test_opcheck(device):
    a = values(3, 4, device=device).requires_grad_()
    torch.library.opcheck(torch.ops.hnn_fast.hu_encode.default, (a, 6, "rate", "sigmoid", None))
    u = torch.rand(6, 3, 4, device=device)
    torch.library.opcheck(torch.ops.hnn_fast.hu_encode.default, (a, 6, "poisson", "identity", u))


def test_compile_fullgraph(device):
    a = values(3, 4, device=device).requires_grad_()

    def f(a):
        s = ops.hu_encode(a, 8, mode="rate", nonlinearity="sigmoid")
        return (s.sum(0) - 3.0).square().sum()

    compiled = torch.compile(f, fullgraph=True)
    out = compiled(a)
    (grad,) = torch.autograd.grad(out, a)
    ref = f(a)
    (ref_grad,) = torch.autograd.grad(ref, a)
    assert_equal("compiled", out, ref)
    assert_close("compiled grad", grad, ref_grad, atol=TOL[torch.float32])


@pytest.mark.parametrize(
    "call,error,name",
    [
        (lambda a: ops.hu_encode(a, -1), ValueError, "T"),
        (lambda a: ops.hu_encode(a, 2.5), TypeError, "T"),
        (lambda a: ops.hu_encode(a, 4, mode="burst"), ValueError, "mode"),
        (lambda a: ops.hu_encode(a, 4, nonlinearity="softplus"), ValueError, "nonlinearity"),
        (lambda a: ops.hu_encode(a.long(), 4), TypeError, "a"),
        (lambda a: torch.ops.hnn_fast.hu_encode(a, -1, "rate", "identity", None), ValueError, "T"),
        (lambda a: torch.ops.hnn_fast.hu_encode(a, 4, "burst", "identity", None), ValueError, "mode"),
        (lambda a: torch.ops.hnn_fast.hu_encode(a, 4, "rate", "softplus", None), ValueError, "nonlinearity"),
        (lambda a: torch.ops.hnn_fast.hu_encode(a.int(), 4, "rate", "identity", None), TypeError, "a"),
        (lambda a: torch.ops.hnn_fast.hu_encode(a, 4, "poisson", "identity", None), ValueError, "uniform"),
        (
            lambda a: torch.ops.hnn_fast.hu_encode(a, 4, "poisson", "identity", torch.rand(3, 5)),
            ValueError,
            "uniform",
        ),
    ],
)
def test_bad_input(call, error, name):
    with pytest.raises(error, match=name):
        call(torch.rand(5))
