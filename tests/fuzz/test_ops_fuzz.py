"""Property-based fuzzing of every fused op against hnn_fast.reference (hypothesis).

Valid inputs: random shapes, layouts (contiguous, strided, transposed, stride 0 from expand, overlapping
as_strided views), dtypes and options; spikes must match the reference exactly in fp32/fp64 and
gradients within the tolerance table. Invalid inputs: each must raise a ValueError/TypeError/
RuntimeError whose message names the argument. Inputs that could crash the process run in a
subprocess, so that a crash fails a test instead of ending the run.

Seeded (derandomize) and bounded to fit `make test`; HNN_FAST_FUZZ_EXAMPLES=N runs N examples per
property instead (e.g. 2000 for a long session).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hnn_fast import ops
from hnn_fast.options import ENCODE_MODES, NONLINEARITIES, RESETS, SURROGATE_ALPHA

from helpers import TOL, assert_close, assert_equal, scale

EXAMPLES = int(os.environ.get("HNN_FAST_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
DTYPES = st.sampled_from([torch.float32, torch.float64])

pytestmark = pytest.mark.usefixtures("one_thread")


@st.composite
def sequences(draw, min_T: int = 0):
    """[T, *shape] in one of the layouts the kernels must handle, with its dtype."""
    dtype = draw(DTYPES)
    T = draw(st.integers(min_T, 7))
    shape = draw(st.lists(st.integers(0, 5), min_size=0, max_size=3))
    layout = draw(st.sampled_from(["contiguous", "strided", "transposed", "expanded", "overlapping"]))
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    full = [T, *shape]
    if layout == "strided":
        x = (torch.rand([T * 2, *[s * 2 for s in shape]], generator=g, dtype=dtype) * 3 - 0.5)[
            (slice(None, None, 2),) * len(full)
        ]
    elif layout == "transposed" and len(shape) >= 1:
        x = (torch.rand(list(reversed(full)), generator=g, dtype=dtype) * 3 - 0.5).permute(
            *reversed(range(len(full)))
        )
    elif layout == "expanded" and len(shape) >= 1:
        x = (torch.rand([T, 1, *shape[1:]], generator=g, dtype=dtype) * 3 - 0.5).expand(full)
    elif layout == "overlapping" and len(shape) == 1 and shape[0] > 1 and T > 0:
        base = torch.rand(T + shape[0], generator=g, dtype=dtype) * 3 - 0.5
        x = base.as_strided(full, (1, 1))  # x[t, n] = base[t + n]: every element read twice
    else:
        x = torch.rand(full, generator=g, dtype=dtype) * 3 - 0.5
    assert list(x.shape) == full
    return x


def _grads(out_fn, *inputs):
    leaves = [t.detach().clone().requires_grad_(True) if t is not None else None for t in inputs]
    outs = out_fn(*leaves)
    outs = outs if isinstance(outs, tuple) else (outs,)
    g = torch.Generator().manual_seed(1)
    loss = sum((o * torch.rand(o.shape, generator=g, dtype=o.dtype)).sum() for o in outs)
    wanted = [t for t in leaves if t is not None]
    # Keeps the graph connected when an output is empty (T = 0) or does not depend on an input.
    loss = loss + sum(t.sum() * 0 for t in wanted)
    return [o.detach() for o in outs], list(
        torch.autograd.grad(loss, wanted, allow_unused=True, materialize_grads=True)
    )


def _compare(name, fused, ref, dtype):
    f_out, f_grad = fused
    r_out, r_grad = ref
    for i, (a, b) in enumerate(zip(f_out, r_out)):
        assert_close(f"{name} output {i}", a, b, atol=TOL[dtype] * scale(b))
    for i, (a, b) in enumerate(zip(f_grad, r_grad)):
        assert_close(f"{name} grad {i}", a, b, atol=100 * TOL[dtype] * max(scale(b), 1.0))


def _both(fn, *inputs):
    ops.set_backend("fused")
    fused = _grads(fn, *inputs)
    ops.set_backend("reference")
    try:
        ref = _grads(fn, *inputs)
    finally:
        ops.set_backend("fused")
    return fused, ref


@FUZZ
@given(
    x=sequences(),
    decay=st.floats(0, 1),
    threshold=st.floats(0.05, 2),
    reset=st.sampled_from(RESETS),
    surrogate=st.sampled_from(sorted(SURROGATE_ALPHA)),
    detach_reset=st.booleans(),
    with_v0=st.booleans(),
)
def test_lif_matches_reference(x, decay, threshold, reset, surrogate, detach_reset, with_v0):
    v0 = torch.rand(x.shape[1:], dtype=x.dtype) if with_v0 else None
    kwargs = dict(decay=decay, threshold=threshold, reset=reset, surrogate=surrogate)
    kwargs["detach_reset"] = detach_reset
    fused, ref = _both(lambda x, v0: ops.lif(x, v0, **kwargs), x, v0)
    assert_equal("lif spikes", fused[0][0], ref[0][0])
    _compare("lif", fused, ref, x.dtype)


@FUZZ
@given(x=sequences(), decay=st.floats(0, 1), tensor_decay=st.booleans())
def test_leaky_integrate_matches_reference(x, decay, tensor_decay):
    d = torch.full(x.shape[2:] if x.dim() > 2 else (), decay, dtype=x.dtype) if tensor_decay else decay
    fused, ref = _both(lambda x: ops.leaky_integrate(x, decay=d), x)
    _compare("leaky_integrate", fused, ref, x.dtype)


@FUZZ
@given(
    x=sequences(min_T=1),
    window=st.integers(1, 9),
    stride=st.integers(1, 4),
    kernel=st.sampled_from(["sum", "mean", "exp", "weights"]),
    decay=st.floats(0, 1),
    drop_last=st.booleans(),
)
def test_hu_window_matches_reference(x, window, stride, kernel, decay, drop_last):
    if drop_last and window > x.shape[0]:
        with pytest.raises(ValueError, match="window"):
            ops.hu_window(x, window, stride, drop_last=True)
        return
    w = torch.rand(window, dtype=x.dtype) if kernel == "weights" else None

    def call(x, w):
        return ops.hu_window(
            x, window, stride, kernel=w if w is not None else kernel,
            decay=decay if kernel == "exp" else None, drop_last=drop_last,
        )  # fmt: skip

    fused, ref = _both(call, x, w)
    _compare("hu_window", fused, ref, x.dtype)


@FUZZ
@given(
    x=sequences(min_T=1),
    T=st.integers(0, 9),
    mode=st.sampled_from(ENCODE_MODES),
    nonlinearity=st.sampled_from(sorted(NONLINEARITIES)),
)
def test_hu_encode_matches_reference(x, T, mode, nonlinearity):
    a = x[0]
    seed = int(a.numel())

    def call(a):
        g = torch.Generator().manual_seed(seed)
        return ops.hu_encode(a, T, mode=mode, nonlinearity=nonlinearity, generator=g)

    fused, ref = _both(call, a)
    assert_equal("hu_encode spikes", fused[0][0], ref[0][0])
    _compare("hu_encode", fused, ref, a.dtype)


# ---- invalid inputs: a clear error naming the argument -------------------------------------------


def _count(v: float) -> int:
    """A non-negative int drawn from a bad float value, for the int arguments."""
    return int(abs(v)) % 1000 if v == v and abs(v) != float("inf") else 7


_BAD_CALLS = {
    "lif decay": (lambda v: ops.lif(torch.ones(3, 2), decay=v), "decay"),
    "lif threshold": (lambda v: ops.lif(torch.ones(3, 2), threshold=torch.ones(_count(v) + 3)), "threshold"),
    "lif alpha": (lambda v: ops.lif(torch.ones(3, 2), alpha=-abs(v)), "alpha"),
    "lif reset": (lambda v: ops.lif(torch.ones(3, 2), reset=str(v)), "reset"),
    "lif surrogate": (lambda v: ops.lif(torch.ones(3, 2), surrogate=str(v)), "surrogate"),
    "lif detach_reset": (lambda v: ops.lif(torch.ones(3, 2), detach_reset=str(v)), "detach_reset"),
    "lif v0": (lambda v: ops.lif(torch.ones(3, 2), torch.ones(_count(v) + 3)), "v0"),
    "leaky decay": (lambda v: ops.leaky_integrate(torch.ones(3, 2), decay=v), "decay"),
    "window": (lambda v: ops.hu_window(torch.ones(3, 2), -_count(v)), "window"),
    "stride": (lambda v: ops.hu_window(torch.ones(3, 2), 1, -_count(v)), "stride"),
    "window decay": (lambda v: ops.hu_window(torch.ones(3, 2), 2, kernel="exp", decay=v), "decay"),
    "window drop_last": (lambda v: ops.hu_window(torch.ones(3, 2), 2, drop_last=str(v)), "drop_last"),
    "window kernel": (lambda v: ops.hu_window(torch.ones(3, 2), 2, kernel=str(v)), "kernel"),
    "encode T": (lambda v: ops.hu_encode(torch.ones(3), -_count(v) - 1), "T"),
    "encode mode": (lambda v: ops.hu_encode(torch.ones(3), 2, mode=str(v)), "mode"),
    "encode nonlinearity": (lambda v: ops.hu_encode(torch.ones(3), 2, nonlinearity=str(v)), "nonlinearity"),
}
# Values that are out of range, not a number, or not a name (each call above turns one into its bad
# argument); the valid ones are filtered out below.
_BAD_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).filter(lambda v: not 0 <= v <= 1),
    st.integers(2, 10**6).map(float),
    st.just(float("nan")),
)


@FUZZ
@given(case=st.sampled_from(sorted(_BAD_CALLS)), value=_BAD_VALUES)
def test_invalid_arguments_raise_a_clear_error(case, value):
    call, argument = _BAD_CALLS[case]
    with pytest.raises((ValueError, TypeError, RuntimeError, OverflowError)) as info:
        call(value)
    assert argument in str(info.value), f"{case}: {info.value!r} does not name {argument}"


# ---- risky inputs, each in a subprocess --------------------------------------------------------

_RISKY = """
import sys, torch
from hnn_fast import ops
cases = [
    lambda: ops.hu_window(torch.ones(4, 3), 2**62, drop_last=False),
    lambda: ops.hu_window(torch.ones(2**20, 0), 3),
    lambda: ops.lif(torch.ones(0, 3)),
    lambda: ops.lif(torch.ones(3, 0, 4)),
    lambda: ops.hu_encode(torch.ones(0), 2**30),
    lambda: ops.leaky_integrate(torch.empty(2**40, 0)),
    lambda: ops.hu_window(torch.ones(5, 2), 3, 2**62, drop_last=False),
    lambda: ops.lif(torch.ones(4, 3).as_strided((4, 3), (0, 0))),
]
for i, case in enumerate(cases):
    try:
        out = case()
    except (ValueError, TypeError, RuntimeError) as e:
        print(i, "error", str(e).splitlines()[0])
    else:
        print(i, "ok")
"""


def test_risky_inputs_do_not_crash_the_process():
    run = subprocess.run([sys.executable, "-c", _RISKY], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-2000:]}"
    assert len(run.stdout.splitlines()) == 8, run.stdout
