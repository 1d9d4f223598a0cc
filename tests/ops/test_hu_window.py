"""hu_window (fused W + H of a spikes-to-values hybrid unit) against hnn_fast.reference.hu_window."""

import pytest
import torch

from hnn_fast import ops, reference

from helpers import assert_near, reference_dtype

# (window, stride, drop_last): plain, overlapping, gapped, padded partial windows.
CONFIGS = [(4, None, True), (4, 3, False), (3, 1, True), (2, 5, False), (5, 2, False)]


def kernel_for(name, window, channels, dtype=torch.float32, device="cpu"):
    gen = torch.Generator().manual_seed(window)
    if name == "shared":
        return torch.randn(window, generator=gen, dtype=dtype).to(device), None
    if name == "per_channel":
        return torch.randn(channels, window, generator=gen, dtype=dtype).to(device), None
    return name, (0.7 if name == "exp" else None)


@pytest.mark.parametrize("name", ["sum", "mean", "exp", "shared", "per_channel"])
@pytest.mark.parametrize("window,stride,drop_last", CONFIGS)
def test_forward_matches_reference(device, name, window, stride, drop_last):
    x = (torch.rand(11, 3, 5, device=device) < 0.4).float()
    kernel, decay = kernel_for(name, window, 3, device=device)
    y = ops.hu_window(x, window, stride, kernel=kernel, decay=decay, drop_last=drop_last)
    ref = reference.hu_window(x, window, stride, kernel=kernel, decay=decay, drop_last=drop_last)
    assert_near(f"{name} w={window} s={stride} drop_last={drop_last}", y, ref, torch.float32)


def test_window_count_and_padding(device):
    x = torch.arange(1.0, 12.0, device=device).view(11, 1)  # T = 11
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
    e = ops.hu_window(torch.eye(3, device=device).unsqueeze(-1), 3, kernel="exp", decay=0.5)
    assert e.flatten().tolist() == [0.25, 0.5, 1.0]


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("name", ["mean", "exp", "per_channel"])
def test_dtypes(device, dtype, name):
    x32 = torch.rand(12, 4, 6, device=device)
    kernel, decay = kernel_for(name, 4, 4, device=device)
    ref = reference.hu_window(
        x32.to(reference_dtype(dtype)), 4, 3, kernel=kernel, decay=decay, drop_last=False
    )
    y = ops.hu_window(x32.to(dtype), 4, 3, kernel=kernel, decay=decay, drop_last=False)
    assert y.dtype == dtype
    assert_near(f"{name} {dtype}", y, ref, dtype)


@pytest.mark.parametrize("name", ["sum", "exp", "shared", "per_channel"])
def test_gradcheck(device, name):
    x = torch.rand(9, 2, 3, dtype=torch.float64, device=device, requires_grad=True)
    kernel, decay = kernel_for(name, 4, 2, torch.float64, device)
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
@pytest.mark.parametrize("name", ["sum", "mean", "exp", "shared", "per_channel"])
def test_gradients_match_reference(device, dtype, name):
    # T = 38, window 5, stride 2: 17 full windows and a padded one, on more neurons than a CUDA block
    x = torch.rand(38, 6, 129, device=device).to(dtype)  # the reference sees the same rounded values
    g = torch.randn(18, 6, 129, device=device).to(dtype)
    kernel, decay = kernel_for(name, 5, 6, device=device)
    results = []
    for fn, dt in ((ops.hu_window, dtype), (reference.hu_window, torch.float32)):
        xi = x.detach().to(dt).requires_grad_()
        ki = kernel.clone().requires_grad_() if isinstance(kernel, torch.Tensor) else kernel
        y = fn(xi, 5, 2, kernel=ki, decay=decay, drop_last=False)
        y.backward(g.to(dt))
        results.append((y, xi.grad, ki.grad if isinstance(ki, torch.Tensor) else None))
    (y, grad_x, grad_w), (y_ref, grad_x_ref, grad_w_ref) = results
    assert y.dtype == grad_x.dtype == dtype
    assert_near(f"{name} out", y, y_ref, dtype)
    assert_near(f"{name} grad x", grad_x, grad_x_ref, dtype)
    if grad_w is not None:
        assert grad_w.dtype == torch.float32
        assert_near(f"{name} grad weights", grad_w, grad_w_ref, dtype)


def test_non_contiguous(device):
    base = torch.rand(20, 5, 3, device=device)
    w = torch.randn(3, 4, device=device)
    for x in (base.transpose(1, 2), base[::2], base[:, 1:4], base[:1].expand(8, 5, 3)):
        xf = x.clone().requires_grad_()
        xr = x.clone().requires_grad_()
        y = ops.hu_window(xf, 4, 2, kernel=w if x.shape[1] == 3 else "mean")
        ref = reference.hu_window(xr, 4, 2, kernel=w if x.shape[1] == 3 else "mean")
        assert_near(f"strides {x.stride()}", y, ref, torch.float32)
        g = torch.randn(y.shape[1:], device=device).expand_as(y)  # a non-contiguous upstream gradient
        y.backward(g)
        ref.backward(g)
        assert_near("grad", xf.grad, xr.grad, torch.float32)


def test_edge_sizes(device):
    x = torch.rand(1, 3, device=device, requires_grad=True)
    y = ops.hu_window(x, 1, kernel="sum")
    assert torch.equal(y, x)
    y.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))
    assert ops.hu_window(torch.rand(0, 3, device=device), 2, drop_last=False).shape == (0, 3)
    assert ops.hu_window(torch.rand(3, 2, device=device), 5, drop_last=False).shape == (1, 2)
    empty = torch.rand(6, 0, 4, device=device, requires_grad=True)
    w = torch.rand(0, 3, device=device, requires_grad=True)
    y = ops.hu_window(empty, 3, kernel=w)
    assert y.shape == (2, 0, 4)
    y.sum().backward()
    assert empty.grad.shape == empty.shape and w.grad.shape == w.shape
    x1 = torch.rand(7, device=device, requires_grad=True)  # no neuron dims
    assert_near("no neuron dims", ops.hu_window(x1, 3, 2), reference.hu_window(x1, 3, 2), torch.float32)


def test_opcheck(device):
    x = torch.rand(9, 2, 3, device=device, requires_grad=True)
    w = torch.rand(2, 4, device=device, requires_grad=True)
    torch.library.opcheck(torch.ops.hnn_fast.hu_window.default, (x, 4, 3, "weights", 0.0, w, False))
    torch.library.opcheck(torch.ops.hnn_fast.hu_window.default, (x, 3, 2, "exp", 0.5, None, True))


def test_compile_fullgraph(device):
    x = torch.rand(10, 2, 3, device=device, requires_grad=True)
    w = torch.rand(2, 4, device=device, requires_grad=True)

    def f(x, w):
        return ops.hu_window(x, 4, 2, kernel=w, drop_last=False).square().sum()

    compiled = torch.compile(f, fullgraph=True)
    out = compiled(x, w)
    gx, gw = torch.autograd.grad(out, (x, w))
    ref = f(x, w)
    rx, rw = torch.autograd.grad(ref, (x, w))
    assert_near("compiled", out, ref, torch.float32)
    assert_near("compiled grad x", gx, rx, torch.float32)
    assert_near("compiled grad w", gw, rw, torch.float32)


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
