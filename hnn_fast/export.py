"""ONNX export of models that use hnn_fast ops.

ONNX has no hnn_fast operators, so the export runs the model on hnn_fast.reference (the pure-PyTorch
definition of every op) instead of the fused kernels: torch.export then records the reference's
loop over time as plain ONNX operators (Mul, Add, GreaterOrEqual, ...), unrolled over the T of the
example input. The exported graph therefore has a fixed T; other dimensions (the batch) may be dynamic.
A translation into an ONNX Loop would keep T dynamic, at the cost of a second definition of every
op to keep equal to the reference; the unrolled graph is the reference itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from .ops import get_backend, set_backend


@contextlib.contextmanager
def reference_ops() -> Iterator[None]:
    """Run every hnn_fast op on its reference definition inside the block (then restore the backend)."""
    previous = get_backend()
    set_backend("reference")
    try:
        yield
    finally:
        set_backend(previous)


def to_onnx(model: torch.nn.Module, args: tuple, path=None, **kwargs) -> torch.onnx.ONNXProgram:
    """torch.onnx.export(model, args, path, dynamo=True, **kwargs) with the hnn_fast ops decomposed
    into their reference definitions (see the module docstring). The model is exported in eval mode
    and without gradients; Poisson codes (a random generator) are not exportable."""
    was_training = model.training
    model.eval()
    try:
        with reference_ops(), torch.no_grad():
            return torch.onnx.export(model, tuple(args), path, dynamo=True, **kwargs)
    finally:
        model.train(was_training)
