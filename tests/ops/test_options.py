"""hnn_fast.options against the C++ side: the parsers accept exactly its names (csrc/core/options.h),
every op takes each of them and rejects any other with an error that names the argument and lists them,
and the rules written in both languages (window count, compute dtype) agree."""

import pytest
import torch

from hnn_fast import _C, ops, options

# The op argument each C++ table parses (the keys of _C.option_names) and its Python names.
NAMES = {
    "reset": list(options.RESETS),
    "surrogate": list(options.SURROGATE_ALPHA),
    "mode": list(options.ENCODE_MODES),
    "nonlinearity": list(options.NONLINEARITIES),
    "kernel": [*options.WINDOW_KERNELS, options.WEIGHTS_KERNEL],
}


def wrapper_names(argument):
    """The names the Python wrapper takes: a weights kernel is a tensor there, not a name."""
    return [name for name in NAMES[argument] if name != options.WEIGHTS_KERNEL]


def schema_call(argument, name, x):
    """The op that parses `argument`, through torch.ops: the C++ parser with no Python check in front."""
    if argument in ("reset", "surrogate"):
        reset, surrogate = (name, "rectangle") if argument == "reset" else ("hard", name)
        return torch.ops.hnn_fast.lif(x, None, None, 0.5, None, 1.0, reset, 0.0, False, surrogate, 1.0, True)
    if argument in ("mode", "nonlinearity"):
        mode, nonlinearity = (name, "identity") if argument == "mode" else ("rate", name)
        uniform = torch.rand(4, x.shape[1], device=x.device) if mode == "poisson" else None
        return torch.ops.hnn_fast.hu_encode(x[0], 4, mode, nonlinearity, uniform)
    weights = torch.rand(2, device=x.device) if name == options.WEIGHTS_KERNEL else None
    return torch.ops.hnn_fast.hu_window(x, 2, 1, name, 0.5, weights, True)


def wrapper_call(argument, name, x):
    """The Python wrapper (hnn_fast.ops) that takes `argument`; the LIF's backward parses it too."""
    if argument in ("reset", "surrogate"):
        x = x.clone().requires_grad_()
        ops.lif(x, **{argument: name})[0].sum().backward()
    elif argument in ("mode", "nonlinearity"):
        ops.hu_encode(x[0], 4, **{argument: name})
    else:
        ops.hu_window(x, 2, kernel=name, decay=0.5 if name == "exp" else None)


@pytest.fixture(params=["fused", "reference"])
def backend(request):
    ops.set_backend(request.param)
    yield request.param
    ops.set_backend("fused")


def assert_rejected(call, argument, names):
    with pytest.raises(ValueError) as error:
        call()
    message = str(error.value)
    assert f"{argument} must be " in message and "'bogus'" in message, message
    for name in names:
        assert repr(name) in message, (name, message)


def test_cpp_tables_hold_the_python_names():
    assert dict(_C.option_names) == NAMES


@pytest.mark.parametrize("argument", NAMES)
def test_the_ops_accept_every_name(argument, device):
    x = torch.rand(6, 3, device=device)
    for name in NAMES[argument]:
        schema_call(argument, name, x)
    for name in wrapper_names(argument):
        wrapper_call(argument, name, x)


@pytest.mark.parametrize("argument", NAMES)
def test_the_cpp_parsers_reject_an_unknown_name(argument, device):
    x = torch.rand(6, 3, device=device)
    assert_rejected(lambda: schema_call(argument, "bogus", x), argument, NAMES[argument])


@pytest.mark.parametrize("argument", NAMES)
def test_the_wrappers_reject_an_unknown_name(argument, backend, device):
    x = torch.rand(6, 3, device=device)
    assert_rejected(lambda: wrapper_call(argument, "bogus", x), argument, wrapper_names(argument))


@pytest.mark.parametrize(
    "names,others,text",
    [
        (("x",), (), "'x'"),
        (("hard", "soft"), (), "'hard' or 'soft'"),
        (("a", "b", "c"), (), "one of 'a', 'b' or 'c'"),
        (("sum", "mean"), ("a tensor of weights",), "one of 'sum', 'mean' or a tensor of weights"),
    ],
)
def test_one_of_words_the_choices_as_the_cpp_parsers_do(names, others, text):
    assert options.one_of(names, *others) == text


@pytest.mark.parametrize("drop_last", [False, True])
def test_window_count_is_the_cpp_rule(drop_last):
    for T in range(9):
        for window in range(1, T + 1 if drop_last else 6):
            for stride in range(1, 5):
                y = torch.ops.hnn_fast.hu_window(
                    torch.rand(T, 2), window, stride, "sum", 0.0, None, drop_last
                )
                assert y.shape[0] == options.window_count(T, window, stride, drop_last), (T, window, stride)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
def test_compute_dtype_is_the_cpp_rule(dtype):
    x = torch.rand(3, 2).to(dtype)
    _, _, h = torch.ops.hnn_fast.lif(
        x, None, None, 0.5, None, 1.0, "hard", 0.0, False, "rectangle", 1.0, True
    )
    assert h.dtype == options.compute_dtype(dtype)
