"""Bad input raises a clear error naming the argument, for every op argument."""

import pytest
import torch

from hnn_fast import ops


@pytest.mark.parametrize("op", [ops.lif, ops.leaky_integrate])
def test_sequence_checks(op):
    with pytest.raises(ValueError, match=r"x must be a sequence \[T, \*shape\]"):
        op(torch.tensor(1.0))
    with pytest.raises(TypeError, match="x must be a floating tensor"):
        op(torch.ones(3, 2, dtype=torch.int64))


@pytest.mark.parametrize("op", [ops.lif, ops.leaky_integrate])
def test_decay_checks(op):
    x = torch.rand(4, 3, 5)
    with pytest.raises(ValueError, match=r"decay must be in \[0, 1\], got 1.5"):
        op(x, decay=1.5)
    with pytest.raises(ValueError, match=r"decay must be in \[0, 1\], got -0.1"):
        op(x, decay=-0.1)
    with pytest.raises(
        ValueError, match=r"decay of shape \[4\] does not broadcast to the neuron shape \[3, 5\]"
    ):
        op(x, decay=torch.rand(4))
    with pytest.raises(TypeError, match="decay must be a float or a tensor"):
        op(x, decay="0.5")


@pytest.mark.parametrize("op", [ops.lif, ops.leaky_integrate])
def test_v0_and_device_checks(op):
    x = torch.rand(4, 3, 5)
    with pytest.raises(ValueError, match=r"v0 must have the neuron shape \[3, 5\] of x, got \[5, 3\]"):
        op(x, torch.rand(5, 3))
    with pytest.raises(ValueError, match="v0 must be on the same device as x"):
        op(x, torch.rand(3, 5, device="meta"))
    with pytest.raises(ValueError, match="decay must be on the same device as x"):
        op(x, decay=torch.rand(3, 5, device="meta"))


def test_lif_specific_checks():
    x = torch.rand(4, 3, 5)
    with pytest.raises(ValueError, match="threshold of shape"):
        ops.lif(x, threshold=torch.rand(2))
    with pytest.raises(ValueError, match="threshold of shape"):
        ops.lif(x, threshold=torch.rand(5, 3, 5))  # per step, but 5 steps for T = 4
    with pytest.raises(TypeError, match="threshold must be a float or a tensor"):
        ops.lif(x, threshold=[1.0])
    with pytest.raises(ValueError, match="surrogate must be one of"):
        ops.lif(x, surrogate="gaussian")
    with pytest.raises(ValueError, match="reset must be 'hard' or 'soft', got 'zero'"):
        ops.lif(x, reset="zero")
    with pytest.raises(ValueError, match="alpha"):
        ops.lif(x, alpha=0.0)
    with pytest.raises(TypeError, match="threshold must be a float or a floating tensor"):
        ops.lif(x, threshold=torch.ones(3, 5, dtype=torch.int32))


def test_direct_op_calls_are_checked_too():
    # The schema-level op (what torch.compile and users of torch.ops call) validates on its own.
    x = torch.rand(4, 3)
    with pytest.raises(ValueError, match="surrogate must be one of"):
        torch.ops.hnn_fast.lif(x, None, None, 0.5, None, 1.0, "hard", 0.0, False, "bogus", 1.0, False)
    with pytest.raises(ValueError, match="h must have the shape of grad_spikes"):
        torch.ops.hnn_fast.lif_backward(
            x,
            torch.zeros(3),
            None,
            torch.empty(0),
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
