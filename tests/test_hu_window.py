"""hu_window (fused W + H of a spikes-to-values hybrid unit) against hnn_fast.reference.hu_window."""

import pytest
import torch

from hnn_fast import ops, reference

# Per-dtype tolerance against the fp32 (fp64 for fp64) reference: a few units of the dtype's rounding.
TOL = {torch.float64: 1e-12, torch.float32: 1e-5, torch.bfloat16: 3e-2, torch.float16: 3e-3}

# (window, stride, drop_last): plain, overlapping, gapped, padded partial windows.
CONFIGS = [(4, None, True), (4, 3, False), (3, 1, True), (2, 5, False), (5, 2, False)]


def kernel_for(name, window, channels, dtype=torch.float32):
    gen = torch.Generator().manual_seed(window)
    if name == "shared":
        return torch.randn(window, generator=gen, dtype=dtype), None
    if name == "per_channel":
        return torch.randn(channels, window, generator=gen, dtype=dtype), None
    return name, (0.7 if name == "exp" else None)


def compare(out, ref, dtype, what=""):
    diff = (out.double() - ref.double()).abs().max().item() if out.numel() else 0.0
    scale = max(1.0, ref.abs().max().item()) if ref.numel() else 1.0
    print(f"{what} max diff {diff:.3g} (scale {scale:.3g}, dtype {dtype})")
    assert out.shape == ref.shape
    assert diff <= TOL[dtype] * scale


@pytest.mark.parametrize("name", ["sum", "mean", "exp", "shared", "per_channel"])
@pytest.mark.parametrize("window,stride,drop_last", CONFIGS)
def test_forward_matches_reference(name, window, stride, drop_last):
    x = (torch.rand(11, 3, 5) < 0.4).float()
    kernel, decay = kernel_for(name, window, 3)
    y = ops.hu_window(x, window, stride, kernel=kernel, decay=decay, drop_last=drop_last)
    ref = reference.hu_window(x, window, stride, kernel=kernel, decay=decay, drop_last=drop_last)
    compare(y, ref, torch.float32, f"{name} w={window} s={stride} drop_last={drop_last}")


def test_window_count_and_padding():
    x = torch.arange(1.0, 12.0).view(11, 1)  # T = 11
    y = ops.hu_window(x, 4, 3, kernel="sum", drop_last=False)  # windows at 0, 3, 6 full, 9 padded
    assert y.flatten().tolist() == [10.0, 22.0, 34.0, 21.0]
    assert ops.hu_window(x, 4, 3, kernel="sum").shape[0] == 3
    # the last full window already reaches the end: nothing to pad
    assert ops.hu_window(x[:10], 4, 3, kernel="sum", drop_last=False).shape[0] == 3
    # gaps (stride > window): the next window would start past the end
    assert ops.hu_window(x[:10], 2, 5, kernel="sum", drop_last=False).flatten().tolist() == [3.0, 13.0]
    # the padded window's mean divides by the full window
    assert ops.hu_window(x[:2], 4, kernel="mean", drop_last=False).item() == pytest.approx(3.0 / 4)
    # exp: the latest step weighs most
    e = ops.hu_window(torch.eye(3).unsqueeze(-1), 3, kernel="exp", decay=0.5)
    assert e.flatten().tolist() == [0.25, 0.5, 1.0]


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("name", ["mean", "exp", "per_channel"])
def test_dtypes(dtype, name):
    x32 = torch.rand(12, 4, 6)
    kernel, decay = kernel_for(name, 4, 4)
    ref_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    ref = reference.hu_window(x32.to(ref_dtype), 4, 3, kernel=kernel, decay=decay, drop_last=False)
    y = ops.hu_window(x32.to(dtype), 4, 3, kernel=kernel, decay=decay, drop_last=False)
    assert y.dtype == dtype
    compare(y, ref, dtype)


@pytest.mark.parametrize("name", ["sum", "exp", "shared", "per_channel"])
def test_gradcheck(name):
    x = torch.rand(9, 2, 3, dtype=torch.float64, requires_grad=True)
    kernel, decay = kernel_for(name, 4, 2, torch.float64)
    if isinstance(kernel, torch.Tensor):
        w = kernel.requires_grad_()
        assert torch.autograd.gradcheck(
            lambda x, w: ops.hu_window(x, 4, 3, kernel=w, drop_last=False), (x, w)
        )
        assert torch.autograd.gradcheck(lambda x, w: ops.hu_window(x, 2, 3, kernel=w[..., :2]), (x, w))
    else:
        assert torch.autograd.gradcheck(
            lambda x: ops.hu_window(x, 4, 1, kernel=kernel, decay=decay, drop_last=False), (x,)
        )


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_gradients_match_reference(dtype):
    x = torch.rand(10, 3, 4)
    w = torch.randn(3, 4)
    g = torch.randn(3, 3, 4)
    grads = []
    for fn, dt in ((ops.hu_window, dtype), (reference.hu_window, torch.float32)):
        xi = x.to(dt).requires_grad_()
        wi = w.clone().requires_grad_()
        fn(xi, 4, 3, kernel=wi, drop_last=False).backward(g.to(dt))
        grads.append((xi.grad, wi.grad))
    compare(grads[0][0], grads[1][0], dtype, "grad x")
    compare(grads[0][1], grads[1][1], dtype if dtype != torch.bfloat16 else torch.bfloat16, "grad weights")
    assert grads[0][1].dtype == torch.float32


def test_non_contiguous():
    base = torch.rand(20, 5, 3)
    w = torch.randn(3, 4)
    for x in (base.transpose(1, 2), base[::2], base[:, 1:4], base[:1].expand(8, 5, 3)):
        xf = x.clone().requires_grad_()
        xr = x.clone().requires_grad_()
        y = ops.hu_window(xf, 4, 2, kernel=w if x.shape[1] == 3 else "mean")
        ref = reference.hu_window(xr, 4, 2, kernel=w if x.shape[1] == 3 else "mean")
        compare(y, ref, torch.float32, f"strides {x.stride()}")
        g = torch.randn(y.shape[1:]).expand_as(y)  # a non-contiguous upstream gradient
        y.backward(g)
        ref.backward(g)
        compare(xf.grad, xr.grad, torch.float32, "grad")


def test_edge_sizes():
    x = torch.rand(1, 3, requires_grad=True)
    y = ops.hu_window(x, 1, kernel="sum")
    assert torch.equal(y, x)
    y.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))
    assert ops.hu_window(torch.rand(0, 3), 2, drop_last=False).shape == (0, 3)
    assert ops.hu_window(torch.rand(3, 2), 5, drop_last=False).shape == (1, 2)
    empty = torch.rand(6, 0, 4, requires_grad=True)
    w = torch.rand(0, 3, requires_grad=True)
    y = ops.hu_window(empty, 3, kernel=w)
    assert y.shape == (2, 0, 4)
    y.sum().backward()
    assert empty.grad.shape == empty.shape and w.grad.shape == w.shape
    x1 = torch.rand(7, requires_grad=True)  # no neuron dims
    compare(ops.hu_window(x1, 3, 2), reference.hu_window(x1, 3, 2), torch.float32)


def test_opcheck():
    x = torch.rand(9, 2, 3, requires_grad=True)
    w = torch.rand(2, 4, requires_grad=True)
    torch.library.opcheck(torch.ops.hnn_fast.hu_window.default, (x, 4, 3, "weights", 0.0, w, False))
    torch.library.opcheck(torch.ops.hnn_fast.hu_window.default, (x, 3, 2, "exp", 0.5, None, True))


def test_compile_fullgraph():
    x = torch.rand(10, 2, 3, requires_grad=True)
    w = torch.rand(2, 4, requires_grad=True)

    def f(x, w):
        return ops.hu_window(x, 4, 2, kernel=w, drop_last=False).square().sum()

    compiled = torch.compile(f, fullgraph=True)
    out = compiled(x, w)
    gx, gw = torch.autograd.grad(out, (x, w))
    ref = f(x, w)
    rx, rw = torch.autograd.grad(ref, (x, w))
    compare(out, ref, torch.float32, "compiled")
    compare(gx, rx, torch.float32, "compiled grad x")
    compare(gw, rw, torch.float32, "compiled grad w")


@pytest.mark.parametrize(
    "call,error,name",
    [
        (lambda x: ops.hu_window(x, 0), ValueError, "window"),
        (lambda x: ops.hu_window(x, 2, 0), ValueError, "stride"),
        (lambda x: ops.hu_window(x, 2, -1), ValueError, "stride"),
        (lambda x: ops.hu_window(x, 9), ValueError, "window"),
        (lambda x: ops.hu_window(x, 2, kernel="median"), ValueError, "kernel"),
        (lambda x: ops.hu_window(x, 2, kernel=torch.rand(3)), ValueError, "weights"),
        (lambda x: ops.hu_window(x, 2, kernel=torch.rand(2, 2)), ValueError, "weights"),
        (lambda x: ops.hu_window(x, 2, kernel=torch.ones(2, dtype=torch.int64)), TypeError, "weights"),
        (lambda x: ops.hu_window(x.long(), 2), TypeError, "x"),
        (lambda x: ops.hu_window(x, 2.0), TypeError, "window"),
        (lambda x: ops.hu_window(x, 2, kernel="exp"), ValueError, "decay"),
        (lambda x: ops.hu_window(x, 2, kernel="exp", decay=1.5), ValueError, "decay"),
        (lambda x: ops.hu_window(x, 2, decay=0.5), ValueError, "decay"),
        # the op itself checks too, for callers of torch.ops.hnn_fast directly
        (lambda x: torch.ops.hnn_fast.hu_window(x, 9, 1, "mean", 0.0, None, True), ValueError, "window"),
        (lambda x: torch.ops.hnn_fast.hu_window(x, 2, 0, "mean", 0.0, None, True), ValueError, "stride"),
        (lambda x: torch.ops.hnn_fast.hu_window(x, 2, 1, "median", 0.0, None, True), ValueError, "kernel"),
        (
            lambda x: torch.ops.hnn_fast.hu_window(x, 2, 1, "weights", 0.0, torch.rand(5), True),
            ValueError,
            "weights",
        ),
        (lambda x: torch.ops.hnn_fast.hu_window(x.int(), 2, 1, "mean", 0.0, None, True), TypeError, "x"),
    ],
)
def test_bad_input(call, error, name):
    with pytest.raises(error, match=name):
        call(torch.rand(8, 3))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("name", ["sum", "mean", "exp", "shared", "per_channel"])
def test_cuda_matches_cpu(dtype, name):
    x = torch.rand(38, 6, 129).to(dtype)
    kernel, decay = kernel_for(name, 5, 6)
    g = torch.randn(18, 6, 129).to(dtype)  # T = 38: 17 full windows and a padded one
    results = []
    for device in ("cpu", "cuda"):
        xi = x.detach().to(device).requires_grad_()
        ki = kernel.detach().to(device).requires_grad_() if isinstance(kernel, torch.Tensor) else kernel
        y = ops.hu_window(xi, 5, 2, kernel=ki, decay=decay, drop_last=False)
        y.backward(g.to(device))
        results.append((y.cpu(), xi.grad.cpu(), ki.grad.cpu() if isinstance(ki, torch.Tensor) else None))
    for a, b in zip(results[0], results[1]):
        if a is not None:
            compare(b, a, dtype if a.dtype == dtype else torch.float32, f"cuda {name}")
