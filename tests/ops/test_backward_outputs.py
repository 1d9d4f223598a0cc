"""The backward ops return a distinct tensor for every gradient nobody asked for: the outputs of a
functional op must not alias each other (torch.library.opcheck and functionalisation rely on it), in
the real kernels and in the fake ones (meta tensors run the fakes)."""

import pytest
import torch

import hnn_fast  # noqa: F401  (loads the op library)

ops = torch.ops.hnn_fast


def distinct(outputs) -> bool:
    return len({id(t) for t in outputs}) == len(outputs)


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_leaky_integrate_backward(device):
    x = torch.rand(4, 3, device=device)
    out = ops.leaky_integrate_backward(x, x, None, None, 0.5, [False, False])
    assert distinct(out)


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_hu_window_backward(device):
    y = torch.rand(2, 3, device=device)
    out = ops.hu_window_backward(y, None, 4, 2, 2, "mean", 0.0, None, [False, False])
    assert distinct(out)


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_lif_backward(device):
    x = torch.rand(4, 3, device=device)
    _, _, h = ops.lif(x, None, None, 0.5, None, 1.0, "hard", 0.0, False, "rectangle", 1.0, True)
    out = ops.lif_backward(
        x,
        x.new_zeros(()),
        None,
        h,
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
        [False, False, False],
    )
    assert distinct(out)


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_lif_recurrent_backward(device):
    x, w = torch.rand(4, 2, 3, device=device), torch.rand(3, 3, device=device)
    args = (None, 0.5, None, 1.0, "hard", 0.0, False, "rectangle", 1.0)
    spikes, _, h = ops.lif_recurrent(x, w, None, None, *args, True)
    out = ops.lif_recurrent_backward(spikes, x.new_zeros(()), h, spikes, w, None, None, *args, [False] * 5)
    assert distinct(out)
