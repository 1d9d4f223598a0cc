"""Careless and hostile arguments to the ops: the fake (meta) kernels reject what the real kernels
reject, bools are bools, second-order gradients raise instead of returning zeros, and a huge window
costs no memory."""

import subprocess
import sys

import pytest
import torch

from hnn_fast import ops

META = torch.device("meta")


def test_meta_weights_with_cpu_input_raise():
    # Under torch.device("meta") a module's weights are meta; called on a CPU tensor the fake kernel
    # runs, and must not hand back an uninitialised CPU tensor.
    x = torch.ones(4, 3)
    with pytest.raises(ValueError, match=r"weights must be on the same device as x \(cpu\), got meta"):
        ops.hu_window(x, 2, kernel=torch.ones(2, device=META))
    with pytest.raises(ValueError, match=r"uniform must be on the same device as x \(cpu\), got meta"):
        torch.ops.hnn_fast.hu_encode(torch.ones(3), 2, "poisson", "identity", torch.rand(2, 3, device=META))
    with pytest.raises(ValueError, match=r"threshold must be on the same device as x \(cpu\), got meta"):
        ops.lif(torch.ones(4, 3), threshold=torch.ones(3, device=META))


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda x: ops.lif(x.int()), TypeError, "x must be a floating tensor"),
        (lambda x: ops.lif(x, threshold=torch.ones(5, 3, device=x.device)), ValueError, "per step"),
        (lambda x: ops.lif(x, alpha=-1.0), ValueError, "alpha .* must be positive"),
        (lambda x: ops.lif(x, alpha=float("nan")), ValueError, "alpha .* must be positive"),
        (lambda x: ops.lif(x, decay=1.5), ValueError, r"decay must be in \[0, 1\]"),
        (lambda x: ops.lif(x, decay=float("nan")), ValueError, r"decay must be in \[0, 1\]"),
        (lambda x: ops.lif(x, reset="sideways"), ValueError, "reset must be 'hard' or 'soft'"),
        (lambda x: ops.lif(x, surrogate="nope"), ValueError, "surrogate must be one of"),
        (lambda x: ops.lif(x, v0=torch.zeros(4, device=x.device)), ValueError, "v0 must have the neuron"),
        (lambda x: ops.leaky_integrate(x, decay=-0.5), ValueError, r"decay must be in \[0, 1\]"),
        (lambda x: ops.leaky_integrate(x.int()), TypeError, "x must be a floating tensor"),
        (lambda x: ops.hu_window(x, 5), ValueError, "must not exceed the length T"),
        (lambda x: ops.hu_window(x.int(), 2), TypeError, "x must be a floating tensor"),
        (lambda x: ops.hu_window(x, 2, kernel=torch.ones(3, device=x.device)), ValueError, "weights must"),
        (lambda x: ops.hu_encode(x.int(), 3), TypeError, "a must be a floating tensor"),
    ],
)
def test_fake_kernels_reject_what_the_real_ones_reject(call, error, message):
    x = torch.ones(4, 3)
    with pytest.raises(error, match=message):
        call(x)  # the real kernel
    with pytest.raises(error, match=message):
        call(x.to(META))  # the fake kernel


@pytest.mark.parametrize("value", ["False", "True", 0, 1, None])
def test_bool_arguments_must_be_bools(value):
    x = torch.ones(4, 3)
    with pytest.raises(TypeError, match=f"drop_last must be a bool .*{value!r}"):
        ops.hu_window(x, 3, drop_last=value)
    with pytest.raises(TypeError, match=f"detach_reset must be a bool .*{value!r}"):
        ops.lif(x, detach_reset=value)


@pytest.mark.parametrize("backend", ["fused", "reference"])
def test_bool_arguments_checked_on_both_backends(backend):
    ops.set_backend(backend)
    try:
        with pytest.raises(TypeError, match="drop_last must be a bool"):
            ops.hu_window(torch.ones(4, 3), 3, drop_last="False")
    finally:
        ops.set_backend("fused")


@pytest.mark.parametrize(
    "name, call",
    [
        ("lif", lambda x, w: ops.lif(x * 3, threshold=w)[0]),
        ("leaky_integrate", lambda x, w: ops.leaky_integrate(x, decay=w)),
        ("hu_window", lambda x, w: ops.hu_window(x, 3, kernel=w)),
        ("hu_encode", lambda x, w: ops.hu_encode(x[0] * w, 4, nonlinearity="sigmoid")),
    ],
)
def test_double_backward_raises(name, call):
    x = torch.rand(4, 3, dtype=torch.float64, requires_grad=True)
    w = torch.rand(3, dtype=torch.float64, requires_grad=True)
    grads = torch.autograd.grad(call(x, w).sum(), (x, w), create_graph=True)
    with pytest.raises(RuntimeError, match=f"hnn_fast.ops.{name}: second-order gradients .* not supported"):
        torch.autograd.grad(sum(g.pow(2).sum() for g in grads), (x, w))


def test_first_order_gradient_with_create_graph_still_works():
    # create_graph alone (the first-order gradient as a graph) asks for nothing unsupported.
    x = torch.rand(4, 3, dtype=torch.float64, requires_grad=True)
    (with_graph,) = torch.autograd.grad(ops.leaky_integrate(x).sum(), x, create_graph=True)
    (plain,) = torch.autograd.grad(ops.leaky_integrate(x).sum(), x)
    assert torch.equal(with_graph, plain)


_HUGE_WINDOW = """
import resource, torch
from hnn_fast import ops
x = torch.ones(4, 3, requires_grad=True)
y = ops.hu_window(x, 2**62, drop_last=False)
y.sum().backward()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, y.shape[0], float(y[0, 0]))
"""


def test_huge_window_costs_no_memory():
    # A window longer than the sequence (drop_last=False) reads T steps; nothing is sized by the window.
    base = subprocess.run(
        [sys.executable, "-c", "import resource, hnn_fast; print(resource.getrusage(0).ru_maxrss)"],
        capture_output=True,
        text=True,
        check=True,
    )
    run = subprocess.run([sys.executable, "-c", _HUGE_WINDOW], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    max_rss_kb, K, y00 = run.stdout.split()
    assert int(K) == 1 and float(y00) == pytest.approx(4 / 2**62)
    grown_mb = (int(max_rss_kb) - int(base.stdout)) / 1024
    assert grown_mb < 100, f"a 2**62-step window grew the process by {grown_mb:.0f} MB"


def test_window_beyond_int64_is_a_clear_error():
    with pytest.raises(ValueError, match="window must be a positive number of steps below 2\\^63"):
        ops.hu_window(torch.ones(4, 3), 2**63, drop_last=False)
