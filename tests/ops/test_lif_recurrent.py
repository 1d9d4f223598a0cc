"""The fused recurrent LIF op against hnn_fast.reference.lif_recurrent: forward, gradients (BPTT),
dtypes, strides, options, opcheck, torch.compile, bad input.

Exactness: the recurrent input s_{t-1} @ W is a sum of weights, and a sum of floats in a different
order can differ in the last bit and flip a spike at the threshold. Most cases therefore draw weights
on a grid of multiples of 1/64 in [-1, 1], where every partial sum of up to 2^16 terms is exact in
fp32 (and in fp16/bf16 inputs, which the op sums in fp32): spike equality then checks the dynamics,
not a summation order. test_generic_weights_bit_exact checks that with arbitrary fp32/fp64 weights
the spikes still match bit for bit, because the op computes the product with the same ATen mm/bmm
the reference's matmul reaches.
"""

import pytest
import torch

from hnn_fast import ops, reference

from helpers import TOL, assert_close, assert_equal, reference_dtype, scale

SURROGATES = list(reference.SURROGATE_ALPHA)


def grid_weight(shape, g, dtype):
    return (torch.randint(-64, 65, shape, generator=g) / 64.0).to(dtype)


def make_case(
    T=12,
    B=3,
    N=10,
    *,
    per_sample=False,
    decay_kind="float",
    threshold_kind="float",
    with_v0=True,
    with_s0=True,
    dtype=torch.float64,
    device="cpu",
    seed=0,
    weight_scale=0.5,
):
    """x, weight, v0, s0 and the keyword arguments of one configuration."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand((T, B, N), generator=g, dtype=torch.float64) * 1.2 - 0.1).to(dtype)
    weight = grid_weight((B, N, N) if per_sample else (N, N), g, dtype) * weight_scale
    param_dtype = dtype if dtype == torch.float64 else torch.float32
    kwargs = {}
    if decay_kind == "float":
        kwargs["decay"] = 0.75
    elif decay_kind == "neuron":
        kwargs["decay"] = torch.rand(N, generator=g, dtype=torch.float64).to(param_dtype)
    if threshold_kind == "float":
        kwargs["threshold"] = 0.9
    elif threshold_kind == "neuron":
        kwargs["threshold"] = (0.5 + torch.rand((B, N), generator=g, dtype=torch.float64)).to(param_dtype)
    elif threshold_kind == "step":
        kwargs["threshold"] = (0.5 + torch.rand((T, 1, N), generator=g, dtype=torch.float64)).to(param_dtype)
    v0 = (torch.rand((B, N), generator=g, dtype=torch.float64) - 0.5).to(param_dtype) if with_v0 else None
    s0 = (torch.rand((B, N), generator=g) < 0.3).to(dtype) if with_s0 else None
    to = lambda t: t.to(device) if torch.is_tensor(t) else t  # noqa: E731
    return to(x), to(weight), to(v0), to(s0), {k: to(v) for k, v in kwargs.items()}


def run(fn, x, weight, v0, s0, kwargs, seed=1):
    """Outputs and the gradients of a random linear loss w.r.t. every tensor input."""
    leaf = lambda t: None if t is None else t.detach().clone().requires_grad_()  # noqa: E731
    x, weight, v0, s0 = leaf(x), leaf(weight), leaf(v0), leaf(s0)
    kwargs = {k: leaf(v) if torch.is_tensor(v) else v for k, v in kwargs.items()}
    spikes, v_last = fn(x, weight, v0, s0, **kwargs)
    g = torch.Generator().manual_seed(seed)
    w_s = torch.randn(spikes.shape, generator=g, dtype=torch.float64).to(spikes.device, spikes.dtype)
    w_v = torch.randn(v_last.shape, generator=g, dtype=torch.float64).to(v_last.device, v_last.dtype)
    loss = (spikes * w_s).sum() + (v_last * w_v).sum()
    inputs = {"x": x, "weight": weight, "v0": v0, "s0": s0}
    inputs.update({k: v for k, v in kwargs.items() if torch.is_tensor(v)})
    inputs = {k: v for k, v in inputs.items() if v is not None}
    grads = torch.autograd.grad(loss, list(inputs.values()), allow_unused=True)
    return spikes, v_last, dict(zip(inputs, grads))


def compare(x, weight, v0, s0, kwargs, *, dtype=torch.float64):
    """Fused on the inputs (in dtype) against the reference on the same values in fp32 (fp64 for fp64)."""
    ref_dtype = reference_dtype(dtype)
    up = lambda t: t.to(ref_dtype) if torch.is_tensor(t) else t  # noqa: E731
    s_ref, v_ref, g_ref = run(
        reference.lif_recurrent, up(x), up(weight), up(v0), up(s0), {k: up(v) for k, v in kwargs.items()}
    )
    s, v, g = run(ops.lif_recurrent, x, weight, v0, s0, kwargs)
    assert s.dtype == x.dtype and v.dtype == x.dtype
    if s_ref.numel() > 10:
        assert 0 < s_ref.float().mean() < 1, "a case without spikes, or all spikes, checks little"
    assert_equal("spikes", s, s_ref)
    tol = TOL[dtype]
    assert_close("v_last", v, v_ref, atol=tol * scale(v_ref), rtol=tol)
    for name, expected in g_ref.items():
        if expected is None:
            assert g[name] is None or torch.count_nonzero(g[name]) == 0, name
            continue
        # BPTT accumulates over T steps and N synapses: a few more roundings than one step.
        assert_close(f"grad {name}", g[name], expected, atol=4 * tol * scale(expected), rtol=4 * tol)
    return s


@pytest.mark.parametrize("per_sample", [False, True])
@pytest.mark.parametrize("reset", ["hard", "soft"])
@pytest.mark.parametrize("surrogate", SURROGATES)
@pytest.mark.parametrize("detach_reset", [False, True])
def test_every_surrogate_and_reset(device, per_sample, reset, surrogate, detach_reset):
    x, w, v0, s0, kwargs = make_case(per_sample=per_sample, decay_kind="neuron", device=device)
    compare(x, w, v0, s0, {**kwargs, "reset": reset, "surrogate": surrogate, "detach_reset": detach_reset})


@pytest.mark.parametrize("decay_kind", ["float", "neuron"])
@pytest.mark.parametrize("threshold_kind", ["float", "neuron", "step"])
@pytest.mark.parametrize("with_v0, with_s0", [(False, False), (True, True), (True, False)])
def test_parameters_and_initial_state_fp32(device, decay_kind, threshold_kind, with_v0, with_s0):
    x, w, v0, s0, kwargs = make_case(
        decay_kind=decay_kind,
        threshold_kind=threshold_kind,
        with_v0=with_v0,
        with_s0=with_s0,
        dtype=torch.float32,
        device=device,
    )
    compare(x, w, v0, s0, {**kwargs, "v_reset": -0.125}, dtype=torch.float32)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("per_sample", [False, True])
def test_every_dtype_against_reference(device, dtype, per_sample):
    x, w, v0, s0, kwargs = make_case(
        T=15, B=4, N=33, per_sample=per_sample, with_v0=False, dtype=dtype, device=device
    )
    compare(x, w, v0, s0, kwargs, dtype=dtype)


@pytest.mark.parametrize("T, B, N", [(1, 1, 1), (30, 1, 200), (8, 70, 5), (5, 2, 2100)])
def test_shapes(device, T, B, N):
    x, w, v0, s0, kwargs = make_case(T, B, N, device=device, weight_scale=4.0 / max(N, 8) ** 0.5)
    compare(x, w, v0, s0, kwargs)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("per_sample", [False, True])
def test_generic_weights_bit_exact(device, dtype, per_sample):
    g = torch.Generator().manual_seed(3)
    T, B, N = 40, 16, 96
    x = (torch.rand((T, B, N), generator=g, dtype=torch.float64) * 0.8).to(dtype)
    shape = (B, N, N) if per_sample else (N, N)
    w = (torch.randn(shape, generator=g, dtype=torch.float64) * 0.4 / N**0.5).to(dtype)
    s, _ = ops.lif_recurrent(x.to(device), w.to(device), decay=0.8, threshold=0.6)
    s_ref, _ = reference.lif_recurrent(x.to(device), w.to(device), decay=0.8, threshold=0.6)
    assert 0.01 < s_ref.mean() < 0.5
    assert_equal("spikes", s, s_ref)


def test_recurrence_changes_the_dynamics(device):
    """The recurrent term is really there: zero weights give plain lif, others do not."""
    x, w, _, _, kwargs = make_case(device=device)
    s_zero, v_zero = ops.lif_recurrent(x, torch.zeros_like(w), **kwargs)
    s_lif, v_lif = ops.lif(x, **kwargs)
    assert_equal("spikes", s_zero, s_lif)
    assert_equal("v_last", v_zero, v_lif)
    assert not torch.equal(ops.lif_recurrent(x, w, **kwargs)[0], s_lif)


def test_hand_computed_trace(device):
    """Two neurons, neuron 0 excites neuron 1 by 0.75: 0 fires at step 1, 1 at step 2 (0.25 + 0.75)."""
    x = torch.tensor([[[1.0, 0.25]], [[0.0, 0.25]], [[0.0, 0.0]]], device=device)
    w = torch.tensor([[0.0, 0.75], [0.0, 0.0]], device=device)
    s, v = ops.lif_recurrent(x, w, decay=0.0, threshold=1.0)
    assert s.squeeze(1).tolist() == [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
    assert v.tolist() == [[0.0, 0.0]]


def test_non_contiguous_inputs(device):
    x, w, v0, s0, kwargs = make_case(T=24, N=12, device=device)
    x_strided = torch.cat([x, x]).view(2, 24, 3, 12).transpose(0, 1)[:, 0][::2]  # time stride 4 rows
    w_t = w.t().contiguous().t()  # column-major
    compare(x_strided, w_t, v0.t().contiguous().t(), s0, kwargs)


def test_empty_and_zero_steps(device):
    x, w, v0, s0, kwargs = make_case(T=0, device=device)
    s, v = ops.lif_recurrent(x, w, v0, s0, **kwargs)
    assert s.shape == x.shape and torch.equal(v, v0.to(v.dtype))
    x, w, _, _, kwargs = make_case(B=0, device=device, with_v0=False, with_s0=False)
    s, v = ops.lif_recurrent(x, w, **kwargs)
    assert s.shape == x.shape and v.shape == (0, 10)


def test_streaming_equals_one_call(device):
    """Chunks carrying (v, s) give the same spikes and gradients as one call (truncated BPTT off)."""
    x, w, v0, s0, kwargs = make_case(T=16, device=device)
    _, _, g_full = run(ops.lif_recurrent, x, w, v0, s0, kwargs)

    def chunked(x, w, v0, s0, **kw):
        s1, v1 = ops.lif_recurrent(x[:7], w, v0, s0, **kw)
        s2, v2 = ops.lif_recurrent(x[7:], w, v1, s1[-1], **kw)
        return torch.cat([s1, s2]), v2

    s_c, _, g_c = run(chunked, x, w, v0, s0, kwargs)
    assert_equal("spikes", s_c, ops.lif_recurrent(x, w, v0, s0, **kwargs)[0])
    for name in g_full:
        assert_close(f"grad {name}", g_c[name], g_full[name], atol=1e-12 * scale(g_full[name]))


def test_gradients_reach_only_what_requires_them(device):
    x, w, v0, s0, kwargs = make_case(decay_kind="neuron", device=device)
    w = w.clone().requires_grad_()
    s, v = ops.lif_recurrent(x, w, v0, s0, **kwargs)
    (grad_w,) = torch.autograd.grad(s.sum() + v.sum(), [w])
    assert grad_w.shape == w.shape and torch.count_nonzero(grad_w) > 0


@pytest.mark.parametrize("output", ["spikes", "v_last"])
def test_loss_on_one_output_only(device, output):
    """The other output's gradient is never materialised as zeros: the backward makes its own."""
    x, w, v0, s0, kwargs = make_case(decay_kind="neuron", device=device)
    grads = {}
    for fn in (reference.lif_recurrent, ops.lif_recurrent):
        leaves = [t.detach().clone().requires_grad_() for t in (x, w, v0)]
        s, v = fn(*leaves, s0, **kwargs)
        loss = (s * torch.linspace(-1, 1, s.shape[-1], device=device, dtype=s.dtype)).sum()
        grads[fn] = torch.autograd.grad(loss if output == "spikes" else (v**2).sum(), leaves)
    for name, got, expected in zip(
        ("x", "weight", "v0"), grads[ops.lif_recurrent], grads[reference.lif_recurrent]
    ):
        assert_close(
            f"grad {name}", got, expected, atol=4 * TOL[x.dtype] * scale(expected), rtol=4 * TOL[x.dtype]
        )


def test_no_grad_inference_matches_training_forward(device):
    x, w, v0, s0, kwargs = make_case(device=device)
    with torch.no_grad():
        s_inf, v_inf = ops.lif_recurrent(x, w, v0, s0, **kwargs)
    s_tr, v_tr = ops.lif_recurrent(x.requires_grad_(), w, v0, s0, **kwargs)
    assert_equal("spikes", s_inf, s_tr)
    assert_equal("v_last", v_inf, v_tr.detach())


def _opcheck_cases(device):
    x, w, v0, s0, _ = make_case(T=5, B=3, N=4, dtype=torch.float32, device=device)
    x, w = x * 1.5, w.requires_grad_()
    per_step = (0.5 + torch.rand(5, 3, 4, device=device)).requires_grad_()
    per_neuron = torch.rand(3, 1, device=device).requires_grad_()
    wb = torch.randn(3, 4, 4, device=device).requires_grad_()
    return [
        (
            x.clone().requires_grad_(),
            w,
            None,
            None,
            None,
            0.5,
            None,
            1.0,
            "hard",
            0.0,
            False,
            "rectangle",
            1.0,
            True,
        ),
        (
            x.clone().requires_grad_(),
            wb,
            v0.requires_grad_(),
            s0.requires_grad_(),
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
        (x.clone(), w.detach(), None, None, None, 0.9, None, 0.5, "hard", -0.1, False, "sigmoid", 4.0, False),
    ]


@pytest.mark.parametrize("case", range(3))
def test_opcheck(device, case):
    torch.library.opcheck(torch.ops.hnn_fast.lif_recurrent.default, _opcheck_cases(device)[case])


def test_opcheck_backward(device):
    rand = lambda *shape: torch.rand(*shape, device=device)  # noqa: E731
    spikes = (rand(5, 3, 4) < 0.3).float()
    args = (rand(5, 3, 4), rand(3, 4), rand(5, 3, 4), spikes, rand(4, 4), rand(3, 4), spikes[0], rand(3, 1))
    args += (0.0, rand(5, 3, 4), 0.0, "soft", 0.0, False, "triangle", 1.0, [True, True, True, True, True])
    torch.library.opcheck(torch.ops.hnn_fast.lif_recurrent_backward.default, args)


@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_torch_compile_fullgraph_forward_and_backward(device, backend):
    def step(x, w, decay, threshold):
        s, v = ops.lif_recurrent(
            x, w, decay=decay, threshold=threshold, reset="soft", surrogate="fast_sigmoid"
        )
        return (s * torch.arange(s.shape[-1], dtype=s.dtype, device=s.device)).sum() + v.square().sum()

    compiled = torch.compile(step, fullgraph=True, backend=backend)
    x, w, _, _, kwargs = make_case(
        T=6, B=4, N=9, decay_kind="neuron", threshold_kind="neuron", dtype=torch.float32, device=device
    )
    args = [t.detach().clone().requires_grad_() for t in (x, w, kwargs["decay"], kwargs["threshold"])]
    args_c = [t.detach().clone().requires_grad_() for t in args]
    step(*args).backward()
    compiled(*args_c).backward()
    for a, b in zip(args, args_c):
        assert_close("compiled grad", b.grad, a.grad, atol=1e-6, rtol=1e-5)


def test_double_backward_is_an_error(device):
    x, w, _, _, kwargs = make_case(device=device)
    w = w.clone().requires_grad_()
    s, _ = ops.lif_recurrent(x, w, **kwargs)
    (g,) = torch.autograd.grad(s.sum(), [w], create_graph=True)
    with pytest.raises(RuntimeError, match="second-order"):
        g.sum().backward()


def _bad_inputs(device):
    x, w, _, _, _ = make_case(T=4, B=2, N=3, dtype=torch.float32, device=device)
    return [
        ({"x": x[0]}, ValueError, "x must be \\[T, B, N\\]"),
        ({"weight": w[:2]}, ValueError, "weight must be \\[N, N\\]"),
        ({"weight": torch.zeros(3, 3, 3, device=device)}, ValueError, "weight must be \\[N, N\\]"),
        ({"weight": w.double()}, TypeError, "weight must have x's dtype"),
        ({"s0": torch.zeros(2, 4, device=device)}, ValueError, "s0 must be \\[B, N\\]"),
        ({"s0": torch.zeros(2, 3, dtype=torch.long, device=device)}, TypeError, "s0 must be a floating"),
        ({"v0": torch.zeros(3, device=device)}, ValueError, "v0 must have the neuron shape"),
        ({"x": x.long()}, TypeError, "x must be a floating tensor"),
        ({"decay": 1.5}, ValueError, "decay must be in \\[0, 1\\]"),
        ({"threshold": torch.ones(5, device=device)}, ValueError, "does not broadcast"),
        ({"reset": "sof"}, ValueError, "reset must be"),
        ({"surrogate": "relu"}, ValueError, "surrogate must be"),
        ({"alpha": -1.0}, ValueError, "alpha"),
    ]


@pytest.mark.parametrize("case", range(13))
@pytest.mark.parametrize("meta", [False, True])
def test_bad_input_is_a_clear_error(device, case, meta):
    """The real kernel and the fake one (meta tensors) reject the same input with the same message."""
    x, w, _, _, _ = make_case(T=4, B=2, N=3, dtype=torch.float32, device=device)
    change, error, message = _bad_inputs(device)[case]
    args = {"x": x, "weight": w, "v0": None, "s0": None, **change}
    if meta:
        args = {k: v.to("meta") if torch.is_tensor(v) else v for k, v in args.items()}
    positional = [args.pop(k) for k in ("x", "weight", "v0", "s0")]
    with pytest.raises(error, match=message):
        ops.lif_recurrent(*positional, **args)


def test_weight_on_another_device_is_an_error():
    x, w, _, _, _ = make_case(T=4, B=2, N=3, dtype=torch.float32)
    with pytest.raises(ValueError, match="weight must be on the same device as x"):
        ops.lif_recurrent(x, w.to("meta"))
