"""The fused LIF op against hnn_fast.reference.lif: forward, gradients, dtypes, strides, options."""

import itertools

import pytest
import torch

import hnn_fast
from hnn_fast import ops, reference

from helpers import TOL, assert_close, assert_equal, reference_dtype, scale

SURROGATES = list(reference.SURROGATE_ALPHA)


def make_case(shape, *, decay_kind, threshold_kind, with_v0, dtype=torch.float64, device="cpu", seed=0):
    """x plus the keyword arguments of one LIF configuration; the tensors require grad."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(shape, generator=g, dtype=torch.float64) * 1.6 - 0.2).to(dtype)
    neurons = shape[1:]
    kwargs = {}
    if decay_kind == "float":
        kwargs["decay"] = 0.7
    elif decay_kind == "neuron":
        kwargs["decay"] = torch.rand(neurons, generator=g, dtype=torch.float64)
    elif decay_kind == "channel":  # broadcast over all but the first neuron dim
        kwargs["decay"] = torch.rand(
            (neurons[0],) + (1,) * (len(neurons) - 1), generator=g, dtype=torch.float64
        )
    if threshold_kind == "float":
        kwargs["threshold"] = 0.8
    elif threshold_kind == "neuron":
        kwargs["threshold"] = 0.5 + torch.rand(neurons, generator=g, dtype=torch.float64)
    elif threshold_kind == "step":
        kwargs["threshold"] = 0.5 + torch.rand(shape, generator=g, dtype=torch.float64)
    v0 = torch.rand(neurons, generator=g, dtype=torch.float64) - 0.5 if with_v0 else None
    params = {k: v.float() if dtype != torch.float64 else v for k, v in kwargs.items() if torch.is_tensor(v)}
    kwargs.update(params)
    if v0 is not None:
        v0 = v0.to(dtype if dtype in (torch.float32, torch.float64) else torch.float32)
    x, v0, kwargs = (
        x.to(device),
        None if v0 is None else v0.to(device),
        {k: v.to(device) if torch.is_tensor(v) else v for k, v in kwargs.items()},
    )
    return x, v0, kwargs


def run(fn, x, v0, kwargs, seed=1):
    """Outputs and the gradients of a random linear loss w.r.t. every tensor input."""
    x = x.detach().clone().requires_grad_()
    v0 = None if v0 is None else v0.detach().clone().requires_grad_()
    kwargs = {k: v.detach().clone().requires_grad_() if torch.is_tensor(v) else v for k, v in kwargs.items()}
    spikes, v_last = fn(x, v0, **kwargs)
    g = torch.Generator().manual_seed(seed)
    w_s = torch.randn(spikes.shape, generator=g, dtype=torch.float64).to(spikes.device, spikes.dtype)
    w_v = torch.randn(v_last.shape, generator=g, dtype=torch.float64).to(v_last.device, v_last.dtype)
    loss = (spikes * w_s).sum() + (v_last * w_v).sum()
    inputs = {"x": x, "v0": v0, **{k: v for k, v in kwargs.items() if torch.is_tensor(v)}}
    inputs = {k: v for k, v in inputs.items() if v is not None}
    grads = torch.autograd.grad(loss, list(inputs.values()), allow_unused=True) if loss.requires_grad else []
    return spikes, v_last, dict(zip(inputs, grads))


def compare(x, v0, kwargs, *, dtype=torch.float32):
    """Fused on x (in dtype) against the reference on the same values in fp32 (fp64 for fp64)."""
    ref_dtype = reference_dtype(dtype)
    up = lambda t: None if t is None else t.to(ref_dtype)  # noqa: E731
    ref_kwargs = {k: up(v) if torch.is_tensor(v) else v for k, v in kwargs.items()}
    s_ref, v_ref, g_ref = run(reference.lif, up(x), up(v0), ref_kwargs)
    s, v, g = run(ops.lif, x, v0, kwargs)
    tol = TOL[dtype]
    assert s.dtype == x.dtype and v.dtype == x.dtype
    assert_equal("spikes", s, s_ref)
    assert_close("v_last", v, v_ref, atol=tol, rtol=tol)
    for name in g_ref:
        if g_ref[name] is None:
            assert g[name] is None or torch.count_nonzero(g[name]) == 0
            continue
        assert_close(f"grad {name}", g[name], g_ref[name], atol=tol * scale(g_ref[name]), rtol=tol)


def compare_broadcasts(shape, broadcasts, *, dtype, device, **options):
    """compare() for each (decay_kind, threshold_kind, with_v0) of broadcasts, with the LIF options given."""
    for decay_kind, threshold_kind, with_v0 in broadcasts:
        x, v0, kwargs = make_case(
            shape,
            decay_kind=decay_kind,
            threshold_kind=threshold_kind,
            with_v0=with_v0,
            dtype=dtype,
            device=device,
        )
        compare(x, v0, {**kwargs, **options}, dtype=dtype)


@pytest.mark.parametrize("reset", ["hard", "soft"])
@pytest.mark.parametrize("surrogate", SURROGATES)
@pytest.mark.parametrize("detach_reset", [False, True])
def test_every_surrogate_and_reset(device, reset, surrogate, detach_reset):
    compare_broadcasts(
        (9, 4, 6),
        [("float", "float", False), ("neuron", "neuron", True), ("channel", "step", True)],
        dtype=torch.float64,
        device=device,
        reset=reset,
        surrogate=surrogate,
        detach_reset=detach_reset,
    )


@pytest.mark.parametrize(
    "decay_kind,threshold_kind,with_v0",
    list(itertools.product(["float", "neuron", "channel"], ["float", "neuron", "step"], [False, True])),
)
def test_parameter_broadcasts_fp32(device, decay_kind, threshold_kind, with_v0):
    x, v0, kwargs = make_case(
        (12, 3, 700),
        decay_kind=decay_kind,
        threshold_kind=threshold_kind,
        with_v0=with_v0,
        dtype=torch.float32,
        device=device,
    )
    compare(x, v0, {**kwargs, "reset": "soft", "surrogate": "atan"}, dtype=torch.float32)
    compare(x, v0, {**kwargs, "reset": "hard", "v_reset": -0.2, "surrogate": "triangle"}, dtype=torch.float32)


@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (3, 1), (7, 1031), (5, 2, 3, 7), (2, 600, 3)])
def test_shapes(device, shape):
    x, v0, kwargs = make_case(
        shape, decay_kind="neuron", threshold_kind="neuron", with_v0=True, dtype=torch.float32, device=device
    )
    compare(x, v0, kwargs)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("reset", ["hard", "soft"])
def test_every_dtype_against_reference(device, dtype, reset):
    # Half precision is compared with the fp32 reference on the same (rounded) values.
    for surrogate in SURROGATES:
        compare_broadcasts(
            (11, 3, 257),
            [("float", "float", False), ("neuron", "step", True), ("channel", "neuron", True)],
            dtype=dtype,
            device=device,
            reset=reset,
            surrogate=surrogate,
            detach_reset=reset == "soft",
        )


def test_rank1_sequence_of_scalars(device):
    x, v0, kwargs = make_case((20,), decay_kind="float", threshold_kind="float", with_v0=False, device=device)
    compare(x, v0, kwargs)


def test_non_contiguous_inputs(device):
    base = torch.rand(16, 6, 10, device=device) * 1.5
    time_strided = base[::2]  # neurons contiguous, time stride 2N: read in place
    transposed = base.transpose(1, 2)  # neurons not contiguous: copied
    for x in (time_strided, transposed):
        assert not x.is_contiguous()
        compare(x, None, {"decay": 0.6, "threshold": torch.full(x.shape[1:], 0.9, device=device)})


def test_non_contiguous_upstream_gradient(device):
    # s.sum() hands the backward an expanded (stride 0) gradient.
    x = (torch.rand(8, 33, device=device) * 1.5).requires_grad_()
    ops.lif(x, decay=0.5, surrogate="sigmoid")[0].sum().backward()
    x_ref = x.detach().clone().requires_grad_()
    reference.lif(x_ref, decay=0.5, surrogate="sigmoid")[0].sum().backward()
    assert_close("grad x", x.grad, x_ref.grad, atol=1e-6, rtol=1e-5)


def test_empty_and_zero_steps(device):
    for shape in [(0, 3), (4, 0), (0, 2, 0)]:
        x = torch.rand(shape, device=device, requires_grad=True)
        s, v = ops.lif(x, decay=0.5)
        assert s.shape == x.shape and v.shape == x.shape[1:]
        (s.sum() + v.sum()).backward()
        assert x.grad.shape == x.shape
    v0 = torch.rand(3, device=device, requires_grad=True)
    s, v = ops.lif(torch.rand(0, 3, device=device), v0)
    assert torch.equal(v, v0.detach())  # no step: the state passes through
    v.sum().backward()
    assert torch.equal(v0.grad, torch.ones(3, device=device))


def test_streaming_equals_one_call(device):
    x, v0, kwargs = make_case(
        (20, 5, 7),
        decay_kind="neuron",
        threshold_kind="step",
        with_v0=True,
        dtype=torch.float32,
        device=device,
    )
    th = kwargs.pop("threshold")
    s_all, v_all = ops.lif(x, v0, threshold=th, **kwargs)
    s1, v1 = ops.lif(x[:8], v0, threshold=th[:8], **kwargs)
    s2, v2 = ops.lif(x[8:], v1, threshold=th[8:], **kwargs)
    assert torch.equal(torch.cat([s1, s2]), s_all)
    assert torch.equal(v2, v_all)


def test_hand_computed_trace(device):
    # decay 0.5, threshold 1: h = 0.6, 0.9, 1.05 (fires), then 1.0 after a hard reset (fires at
    # equality) or 0.025 + 1.0 after a soft reset (fires, leaving 0.025).
    x = torch.tensor([[0.6], [0.6], [0.6], [1.0]], dtype=torch.float64, device=device)
    s, v = ops.lif(x, decay=0.5, threshold=1.0, reset="hard")
    assert s.flatten().tolist() == [0, 0, 1, 1] and v.item() == 0.0
    s, v = ops.lif(x, decay=0.5, threshold=1.0, reset="soft")
    assert s.flatten().tolist() == [0, 0, 1, 1]
    assert v.item() == pytest.approx(0.025)


def test_gradients_reach_only_what_requires_them(device):
    x = torch.rand(6, 5, device=device, requires_grad=True)
    decay = torch.full((5,), 0.5, device=device)  # no grad wanted
    threshold = torch.full((6, 5), 0.7, device=device, requires_grad=True)
    s, _ = ops.lif(x, decay=decay, threshold=threshold, surrogate="atan")
    s.sum().backward()
    assert decay.grad is None and threshold.grad.shape == threshold.shape and x.grad.shape == x.shape


def test_no_grad_inference_matches_training_forward(device):
    x = torch.rand(10, 64, device=device) * 1.5
    with torch.no_grad():
        s_inf, v_inf = ops.lif(x, decay=0.8)
    s_tr, v_tr = ops.lif(x.requires_grad_(), decay=0.8)
    assert torch.equal(s_inf, s_tr) and torch.equal(v_inf, v_tr)


def test_reference_backend_switch():
    x = torch.rand(5, 7) * 2
    fused = ops.lif(x, decay=0.3)
    hnn_fast.set_backend("reference")
    try:
        ref = ops.lif(x, decay=0.3)
    finally:
        hnn_fast.set_backend("fused")
    assert torch.equal(fused[0], ref[0])
    with pytest.raises(ValueError, match="backend"):
        hnn_fast.set_backend("numpy")


def _opcheck_cases(device):
    x = torch.rand(5, 3, 4, device=device) * 1.5
    per_step = (0.5 + torch.rand(5, 3, 4, device=device)).requires_grad_()
    per_neuron = torch.rand(3, 1, device=device).requires_grad_()
    v0 = torch.rand(3, 4, device=device).requires_grad_()
    return [
        (x.clone().requires_grad_(), None, None, 0.5, None, 1.0, "hard", 0.0, False, "rectangle", 1.0, True),
        (
            x.clone().requires_grad_(),
            v0,
            per_neuron,
            0.0,
            per_step,
            0.0,
            "soft",
            0.0,
            True,
            "atan",
            2.0,
            True,
        ),
        (x.clone(), None, None, 0.9, None, 0.5, "hard", -0.1, False, "sigmoid", 4.0, False),
    ]


@pytest.mark.parametrize("case", range(3))
def test_opcheck(device, case):
    torch.library.opcheck(torch.ops.hnn_fast.lif.default, _opcheck_cases(device)[case])


def test_opcheck_backward(device):
    rand = lambda *shape: torch.rand(*shape, device=device)  # noqa: E731
    args = (
        rand(5, 3, 4),
        rand(3, 4),
        rand(5, 3, 4),
        rand(5, 3, 4),
        rand(3, 4),
        rand(3, 1),
        0.0,
        rand(5, 3, 4),
        0.0,
        "soft",
        0.0,
        False,
        "triangle",
        1.0,
        [True, True, True],
    )
    torch.library.opcheck(torch.ops.hnn_fast.lif_backward.default, args)


def test_torch_compile_fullgraph_forward_and_backward(device):
    def step(x, decay, threshold):
        s, v = ops.lif(x, decay=decay, threshold=threshold, reset="soft", surrogate="fast_sigmoid")
        return (s * torch.arange(s.shape[-1], dtype=s.dtype, device=s.device)).sum() + v.square().sum()

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    x, _, kwargs = make_case(
        (6, 4, 9),
        decay_kind="neuron",
        threshold_kind="neuron",
        with_v0=False,
        dtype=torch.float32,
        device=device,
    )
    args = [t.detach().clone().requires_grad_() for t in (x, kwargs["decay"], kwargs["threshold"])]
    args_c = [t.detach().clone().requires_grad_() for t in args]
    step(*args).backward()
    compiled(*args_c).backward()
    for a, b in zip(args, args_c):
        assert_close("compiled grad", b.grad, a.grad, atol=1e-6, rtol=1e-5)


def test_torch_compile_inductor(device):
    x = torch.rand(6, 300, device=device, requires_grad=True)
    compiled = torch.compile(lambda x: ops.lif(x, decay=0.6)[0].sum(), fullgraph=True)
    compiled(x).backward()
    x_ref = x.detach().clone().requires_grad_()
    ops.lif(x_ref, decay=0.6)[0].sum().backward()
    assert torch.equal(x.grad, x_ref.grad)


def _membrane_loss(fn, x, v0, kwargs, seed=2):
    """Outputs and the gradients of a loss on the spikes, v_T and the membrane sequence h together."""
    x = x.detach().clone().requires_grad_()
    v0 = None if v0 is None else v0.detach().clone().requires_grad_()
    kwargs = {k: v.detach().clone().requires_grad_() if torch.is_tensor(v) else v for k, v in kwargs.items()}
    spikes, v_last, h = fn(x, v0, **kwargs, return_membrane=True)
    g = torch.Generator().manual_seed(seed)
    w_h = torch.randn(h.shape, generator=g, dtype=torch.float64).to(h.device, h.dtype)
    loss = (h * w_h).sum() + h.square().mean() + spikes.sum() + v_last.sum()
    inputs = {"x": x, "v0": v0, **{k: v for k, v in kwargs.items() if torch.is_tensor(v)}}
    inputs = {k: v for k, v in inputs.items() if v is not None}
    return spikes, h, dict(zip(inputs, torch.autograd.grad(loss, list(inputs.values()))))


def _reference_with_membrane(x, v0=None, *, return_membrane, **kwargs):
    """The reference membrane: v_{t-1} from reference.lif over the first t steps, then
    h_t = decay v_{t-1} + x_t."""
    decay, threshold = kwargs["decay"], kwargs["threshold"]
    per_step = torch.is_tensor(threshold) and threshold.dim() == x.dim()
    v = x.new_zeros(x.shape[1:]) if v0 is None else v0
    h = []
    for t in range(x.shape[0]):
        if t > 0:
            prefix = dict(kwargs, threshold=threshold[:t]) if per_step else kwargs
            v = reference.lif(x[:t], v0, **prefix)[1]
        h.append(decay * v + x[t])
    spikes, v_last = reference.lif(x, v0, **kwargs)
    return spikes, v_last, torch.stack(h)


@pytest.mark.parametrize("reset", ["hard", "soft"])
@pytest.mark.parametrize("detach_reset", [False, True])
@pytest.mark.parametrize(
    "kinds", [("float", "float", False), ("neuron", "step", True), ("channel", "neuron", True)]
)
def test_membrane_is_returned_and_differentiable(device, reset, detach_reset, kinds):
    decay_kind, threshold_kind, with_v0 = kinds
    x, v0, kwargs = make_case(
        (7, 3, 5), decay_kind=decay_kind, threshold_kind=threshold_kind, with_v0=with_v0, device=device
    )
    kwargs.update(reset=reset, detach_reset=detach_reset, surrogate="sigmoid")
    s_ref, h_ref, g_ref = _membrane_loss(_reference_with_membrane, x, v0, kwargs)
    for backend in ("fused", "reference"):
        hnn_fast.set_backend(backend)
        try:
            s, h, g = _membrane_loss(ops.lif, x, v0, kwargs)
        finally:
            hnn_fast.set_backend("fused")
        assert_equal(f"{backend} spikes", s, s_ref)
        assert_close(f"{backend} membrane", h, h_ref, atol=1e-12, rtol=1e-12)
        for name in g_ref:
            assert_close(f"{backend} grad {name}", g[name], g_ref[name], atol=1e-10, rtol=1e-10)


def test_membrane_in_the_input_dtype(device):
    for dtype in (torch.float16, torch.bfloat16, torch.float32):
        x = torch.rand(4, 6, device=device, dtype=dtype, requires_grad=True)
        *_, h = ops.lif(x, decay=0.5, return_membrane=True)
        assert h.dtype == dtype and h.shape == x.shape
        h.sum().backward()
        assert x.grad is not None and x.grad.dtype == dtype
    with pytest.raises(TypeError, match="return_membrane must be a bool"):
        ops.lif(x, return_membrane=1)


def test_membrane_gradcheck_fp64(device):
    # Only the membrane enters the loss, so the gradient is smooth (the spikes' surrogate is not theirs
    # to check); gradcheck compares the fused backward with finite differences of the fused forward.
    x = (torch.rand(6, 4, dtype=torch.float64, device=device) * 0.6).requires_grad_()
    v0 = (torch.rand(4, dtype=torch.float64, device=device) * 0.2).requires_grad_()
    decay = torch.rand(4, dtype=torch.float64, device=device).requires_grad_()
    threshold = torch.full((4,), 5.0, dtype=torch.float64, device=device)  # never reached: no spike jumps
    torch.autograd.gradcheck(
        lambda x, v0, decay: ops.lif(x, v0, decay=decay, threshold=threshold, return_membrane=True)[2],
        (x, v0, decay),
    )


def test_opcheck_backward_with_membrane_gradient(device):
    rand = lambda *shape: torch.rand(*shape, device=device)  # noqa: E731
    args = (rand(5, 3), rand(3), rand(5, 3), rand(5, 3), None, None, 0.6, None, 1.0, "hard", 0.0, False,
            "atan", 2.0, [False, False, False])  # fmt: skip
    torch.library.opcheck(torch.ops.hnn_fast.lif_backward.default, args)
    with pytest.raises(ValueError, match="grad_h must have the shape of grad_spikes"):
        torch.ops.hnn_fast.lif_backward(*args[:2], rand(4, 3), *args[3:])


def test_torch_compile_fullgraph_membrane_loss(device):
    def step(x, decay):
        s, v, h = ops.lif(x, decay=decay, threshold=0.9, reset="soft", return_membrane=True)
        return s.sum() + h.square().sum() + v.sum()

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    x = torch.rand(6, 4, 9, device=device) * 1.2
    decay = torch.rand(4, 9, device=device)
    args = [t.clone().requires_grad_() for t in (x, decay)]
    args_c = [t.clone().requires_grad_() for t in (x, decay)]
    step(*args).backward()
    compiled(*args_c).backward()
    for a, b in zip(args, args_c):
        assert_close("compiled grad", b.grad, a.grad, atol=1e-6, rtol=1e-5)
