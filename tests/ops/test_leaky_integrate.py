"""The fused leaky integrator against hnn_fast.reference.leaky_integrate."""

import pytest
import torch

from hnn_fast import ops, reference

from helpers import TOL, assert_close


def grads(fn, x, v0, decay, seed=0):
    x = x.detach().clone().requires_grad_()
    v0 = None if v0 is None else v0.detach().clone().requires_grad_()
    decay = decay.detach().clone().requires_grad_() if torch.is_tensor(decay) else decay
    out = fn(x, v0, decay=decay)
    w = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    inputs = [t for t in (x, v0, decay) if torch.is_tensor(t)]
    return out, torch.autograd.grad((out * w.to(out.device, out.dtype)).sum(), inputs)


@pytest.mark.parametrize("shape", [(1, 1), (9, 5), (13, 3, 200), (4, 2, 3, 5)])
@pytest.mark.parametrize("decay_kind", ["float", "neuron", "channel"])
@pytest.mark.parametrize("with_v0", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_against_reference(device, shape, decay_kind, with_v0, dtype):
    x = torch.randn(shape, dtype=dtype, device=device)
    decay = {
        "float": 0.8,
        "neuron": torch.rand(shape[1:], dtype=dtype, device=device),
        "channel": torch.rand((shape[1],) + (1,) * (len(shape) - 2), dtype=dtype, device=device),
    }[decay_kind]
    v0 = torch.randn(shape[1:], dtype=dtype, device=device) if with_v0 else None
    out, g = grads(ops.leaky_integrate, x, v0, decay)
    out_ref, g_ref = grads(reference.leaky_integrate, x, v0, decay)
    tol = TOL[dtype]
    assert_close("v_seq", out, out_ref, atol=tol, rtol=tol)
    for a, b in zip(g, g_ref):
        assert_close("grad", a, b, atol=tol * 10, rtol=tol)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.float16])
def test_mixed_precision_against_fp32_reference(device, dtype):
    # x in dtype, decay and v0 in fp32: a per-neuron decay without v0, and a per-channel decay with v0
    # on more neurons than one CUDA block holds.
    tol = max(TOL[dtype], TOL[torch.float32])  # no closer than the fp32 reference itself
    for shape, decay_shape, with_v0 in [((12, 70), (70,), False), ((11, 3, 301), (3, 1), True)]:
        x = torch.randn(shape, device=device)
        decay = torch.rand(decay_shape, device=device)
        v0 = torch.randn(shape[1:], device=device) if with_v0 else None
        out, g = grads(ops.leaky_integrate, x.to(dtype), v0, decay)
        out_ref, g_ref = grads(reference.leaky_integrate, x, v0, decay)
        assert out.dtype == dtype
        # the state is rounded to dtype at each of the T steps, and the gradients sum over them
        assert_close("v_seq", out, out_ref, atol=tol * 4, rtol=tol)
        for a, b in zip(g, g_ref):
            assert_close("grad", a, b, atol=tol * 20, rtol=tol * 4)


def test_gradcheck_fp64(device):
    x = torch.randn(6, 3, 4, dtype=torch.float64, device=device, requires_grad=True)
    v0 = torch.randn(3, 4, dtype=torch.float64, device=device, requires_grad=True)
    decay = torch.rand(3, 1, dtype=torch.float64, device=device, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, v0, d: ops.leaky_integrate(x, v0, decay=d), (x, v0, decay))
    assert torch.autograd.gradcheck(lambda x: ops.leaky_integrate(x, decay=0.9), (x,))


def test_non_contiguous_and_empty(device):
    base = torch.randn(10, 4, 6, device=device)
    for x in (base[::2], base.transpose(1, 2)):
        assert_close(
            "v_seq",
            ops.leaky_integrate(x, decay=0.7),
            reference.leaky_integrate(x, decay=0.7),
            atol=1e-6,
            rtol=1e-6,
        )
    for shape in [(0, 3), (3, 0)]:
        x = torch.rand(shape, device=device, requires_grad=True)
        out = ops.leaky_integrate(x)
        out.sum().backward()
        assert out.shape == shape and x.grad.shape == shape


def test_streaming_equals_one_call(device):
    x = torch.randn(15, 8, device=device)
    decay = torch.rand(8, device=device)
    full = ops.leaky_integrate(x, decay=decay)
    first = ops.leaky_integrate(x[:6], decay=decay)
    second = ops.leaky_integrate(x[6:], first[-1], decay=decay)
    assert torch.equal(torch.cat([first, second]), full)


def test_opcheck(device):
    x = torch.randn(5, 3, 4, device=device, requires_grad=True)
    v0 = torch.randn(3, 4, device=device, requires_grad=True)
    decay = torch.rand(4, device=device, requires_grad=True)
    torch.library.opcheck(torch.ops.hnn_fast.leaky_integrate.default, (x, None, None, 0.5))
    torch.library.opcheck(torch.ops.hnn_fast.leaky_integrate.default, (x, v0, decay, 0.0))
    grad, v, v0 = (torch.randn(*s, device=device) for s in [(5, 3), (5, 3), (3,)])
    decay = torch.rand(3, device=device)
    torch.library.opcheck(
        torch.ops.hnn_fast.leaky_integrate_backward.default, (grad, v, v0, decay, 0.0, [True, True])
    )


def test_torch_compile_fullgraph(device):
    x = torch.randn(7, 20, device=device, requires_grad=True)
    decay = torch.rand(20, device=device, requires_grad=True)
    fn = lambda x, d: ops.leaky_integrate(x, decay=d).square().mean()  # noqa: E731
    torch.compile(fn, fullgraph=True, backend="aot_eager")(x, decay).backward()
    x2, d2 = x.detach().clone().requires_grad_(), decay.detach().clone().requires_grad_()
    fn(x2, d2).backward()
    assert_close("grad x", x.grad, x2.grad, atol=1e-6, rtol=1e-5)
    assert_close("grad decay", decay.grad, d2.grad, atol=1e-6, rtol=1e-5)
