"""hu_encode (fused sampler + F + Q of a values-to-spikes hybrid unit) against
hnn_fast.reference.hu_encode."""

import pytest
import torch

from hnn_fast import ops, reference

MODES = ["rate", "poisson", "latency"]
NONLINEARITIES = ["identity", "sigmoid", "relu", "tanh", "hardtanh"]
TOL = {torch.float64: 1e-12, torch.float32: 1e-5, torch.bfloat16: 2e-2, torch.float16: 2e-3}


def values(*shape, dtype=torch.float32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    a = torch.rand(*shape, generator=gen) * 1.6 - 0.3  # covers both sides of the clamp
    a.view(-1)[:3] = torch.tensor([0.0, 1.0, 0.5])
    return a.to(dtype)


def encode(fn, a, T, mode, nonlinearity, seed=7):
    gen = torch.Generator().manual_seed(seed)
    return fn(a, T, mode=mode, nonlinearity=nonlinearity, generator=gen)


def report(what, out, ref):
    diff = (out.double() - ref.double()).abs().max().item() if out.numel() else 0.0
    print(f"{what}: max diff {diff:.3g}")
    return diff


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
def test_forward_matches_reference(mode, nonlinearity):
    a = values(4, 6)
    s = encode(ops.hu_encode, a, 9, mode, nonlinearity)
    ref = encode(reference.hu_encode, a, 9, mode, nonlinearity)
    assert s.shape == (9, 4, 6) and s.dtype == a.dtype
    assert report(f"{mode}/{nonlinearity}", s, ref) == 0


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("mode", MODES)
def test_dtypes(dtype, mode):
    a = values(3, 5, dtype=dtype)
    ref_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    s = encode(ops.hu_encode, a, 8, mode, "sigmoid")
    # the reference sees the same (rounded) values in the compute dtype: spikes must agree exactly
    ref = encode(reference.hu_encode, a.to(ref_dtype), 8, mode, "sigmoid")
    assert s.dtype == dtype
    assert report(f"{mode} {dtype}", s, ref) == 0


def test_rate_code_counts_and_spread():
    p = torch.linspace(0, 1, 23)
    T = 16
    s = ops.hu_encode(p, T)
    assert torch.equal(s.sum(0), torch.floor(T * p))
    # evenly spread: after t + 1 steps the count is floor((t + 1) p)
    steps = torch.arange(1, T + 1, dtype=torch.float32).unsqueeze(1)
    assert torch.equal(s.cumsum(0), torch.floor(steps * p))


def test_latency_code():
    p = torch.tensor([0.0, 1.0, 0.5, 0.25, 0.9])
    s = ops.hu_encode(p, 5, mode="latency")
    assert s.sum(0).tolist() == [0.0, 1.0, 1.0, 1.0, 1.0]
    assert s.argmax(0)[1:].tolist() == [0, 2, 3, 0]  # round((1 - p) * 4), half to even


def test_poisson_reproducible():
    a = torch.full((2000,), 0.3)
    first = ops.hu_encode(a, 5, mode="poisson", generator=torch.Generator().manual_seed(3))
    again = ops.hu_encode(a, 5, mode="poisson", generator=torch.Generator().manual_seed(3))
    other = ops.hu_encode(a, 5, mode="poisson", generator=torch.Generator().manual_seed(4))
    assert torch.equal(first, again)
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
def test_gradients_match_reference(mode, nonlinearity):
    a = values(4, 5, dtype=torch.float64)
    g = torch.randn(7, 4, 5, dtype=torch.float64)
    grads = []
    for fn in (ops.hu_encode, reference.hu_encode):
        ai = a.clone().requires_grad_()
        encode(fn, ai, 7, mode, nonlinearity).backward(g)
        grads.append(ai.grad)
    assert report(f"grad {mode}/{nonlinearity}", grads[0], grads[1]) <= 1e-10
    if mode != "latency":  # straight-through: T * F'(a) * mean grad where the clamp is inactive
        assert grads[0].abs().sum() > 0


def test_latency_surrogate_gives_spike_time_gradient():
    p = torch.tensor([0.3, 0.55, 0.8], dtype=torch.float64, requires_grad=True)
    T = 11
    s = ops.hu_encode(p, T, mode="latency")
    times = torch.arange(T, dtype=torch.float64).unsqueeze(1)
    (s * times).sum().backward()
    assert torch.allclose(p.grad, torch.full((3,), -(T - 1.0), dtype=torch.float64))
    p.grad = None
    ops.hu_encode(p, T, mode="latency").sum().backward()  # the count does not depend on p
    assert torch.equal(p.grad, torch.zeros(3, dtype=torch.float64))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_gradient_dtypes(dtype):
    a = values(3, 4)
    g = torch.randn(6, 3, 4)
    ai = a.to(dtype).requires_grad_()
    ops.hu_encode(ai, 6, nonlinearity="sigmoid").backward(g.to(dtype))
    ar = a.to(dtype).float().requires_grad_()
    reference.hu_encode(ar, 6, nonlinearity="sigmoid").backward(g.to(dtype).float())
    assert ai.grad.dtype == dtype
    diff = report(f"grad {dtype}", ai.grad, ar.grad)
    assert diff <= TOL[dtype] * max(1.0, ar.grad.abs().max().item())


def test_non_contiguous_and_edge_sizes():
    base = values(6, 8)
    for a in (base.t(), base[::2], base[:, 1:5]):
        for mode in MODES:
            assert (
                report(
                    f"{mode} strides {a.stride()}",
                    encode(ops.hu_encode, a, 5, mode, "identity"),
                    encode(reference.hu_encode, a, 5, mode, "identity"),
                )
                == 0
            )
    a = values(3).requires_grad_()
    s = ops.hu_encode(a, 1, mode="latency")  # T = 1: every p > 0 fires at step 0
    assert torch.equal(s[0], (a.detach().clamp(0, 1) > 0).float())
    s.sum().backward()
    assert ops.hu_encode(a, 0).shape == (0, 3)
    empty = torch.rand(0, 4, requires_grad=True)
    out = ops.hu_encode(empty, 5, mode="poisson")
    assert out.shape == (5, 0, 4)
    out.sum().backward()
    assert empty.grad.shape == empty.shape
    scalar = torch.tensor(0.5)
    assert ops.hu_encode(scalar, 4).tolist() == [0.0, 1.0, 0.0, 1.0]


def test_opcheck():
    a = values(3, 4).requires_grad_()
    torch.library.opcheck(torch.ops.hnn_fast.hu_encode.default, (a, 6, "rate", "sigmoid", None))
    u = torch.rand(6, 3, 4)
    torch.library.opcheck(torch.ops.hnn_fast.hu_encode.default, (a, 6, "poisson", "identity", u))


def test_compile_fullgraph():
    a = values(3, 4).requires_grad_()

    def f(a):
        s = ops.hu_encode(a, 8, mode="rate", nonlinearity="sigmoid")
        return (s.sum(0) - 3.0).square().sum()

    compiled = torch.compile(f, fullgraph=True)
    out = compiled(a)
    (grad,) = torch.autograd.grad(out, a)
    ref = f(a)
    (ref_grad,) = torch.autograd.grad(ref, a)
    assert report("compiled", out, ref) == 0
    assert report("compiled grad", grad, ref_grad) <= 1e-5


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


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("mode", MODES)
def test_cuda_matches_cpu(dtype, mode):
    a = values(33, 70, dtype=dtype)
    g = torch.randn(12, 33, 70).to(dtype)
    # identity: p is exact on both devices, so the spikes must agree bit for bit; tanh (whose last bit
    # may differ between the host and device libraries) is checked through the gradient's tolerance
    for nonlinearity in ("identity", "tanh"):
        results = []
        for device in ("cpu", "cuda"):
            ai = a.detach().to(device).requires_grad_()
            # a CPU generator draws the same uniforms for both devices
            s = ops.hu_encode(
                ai, 12, mode=mode, nonlinearity=nonlinearity, generator=torch.Generator().manual_seed(1)
            )
            s.backward(g.to(device))
            results.append((s.cpu(), ai.grad.cpu()))
        if nonlinearity == "identity":
            assert report(f"cuda {mode} spikes", results[1][0], results[0][0]) == 0
        assert report(f"cuda {mode} {nonlinearity} grad", results[1][1], results[0][1]) <= TOL[dtype] * 12
    cuda_gen = torch.Generator(device="cuda").manual_seed(2)
    first = ops.hu_encode(a.cuda(), 12, mode="poisson", generator=cuda_gen)
    cuda_gen.manual_seed(2)
    assert torch.equal(first, ops.hu_encode(a.cuda(), 12, mode="poisson", generator=cuda_gen))
