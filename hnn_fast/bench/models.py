"""Models join the benchmark by registering a factory here, next to their definition:

    from hnn_fast.bench.models import ModelCase, register_model

    @register_model("hsn")
    def _bench_hsn(device, dtype, preset):
        model = HSN(...).to(device, dtype)
        x, y = ...  # a batch sized for the preset ("tiny", "quick" or "full")
        return ModelCase(model, (x,), y, torch.nn.functional.cross_entropy)

The suite imports every module under hnn_fast.models, so registrations there run without the suite
knowing the models by name; one training step and one inference step of each are then timed on the
fused ops and on the reference ops (hnn_fast.set_backend("reference"))."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor


@dataclass
class ModelCase:
    """model(*inputs) is one inference step; loss(output, target).backward() then an SGD step is one
    training step. A model whose weights are not learnt by gradient (trainable=False, target and loss
    None) is timed for inference only."""

    model: torch.nn.Module
    inputs: tuple
    target: Tensor | None
    loss: Callable[[object, Tensor], Tensor] | None
    trainable: bool = True


ModelFactory = Callable[[torch.device, torch.dtype, str], ModelCase]
_REGISTRY: dict[str, ModelFactory] = {}


def register_model(name: str) -> Callable[[ModelFactory], ModelFactory]:
    def decorate(factory: ModelFactory) -> ModelFactory:
        _REGISTRY[name] = factory
        return factory

    return decorate


def unregister_model(name: str) -> None:
    _REGISTRY.pop(name, None)


def discover(package: str = "hnn_fast.models") -> tuple[dict[str, ModelFactory], dict[str, str]]:
    """Imports every module of `package` and returns (the registered factories, {module: why it
    failed to import}); a model that does not import is reported, not allowed to stop the suite."""
    failures = {}
    try:
        root = importlib.import_module(package)
    except ModuleNotFoundError as error:
        if error.name is not None and package.startswith(error.name):
            return dict(_REGISTRY), {}
        return dict(_REGISTRY), {package: repr(error)}
    for info in pkgutil.walk_packages(getattr(root, "__path__", []), prefix=package + "."):
        try:
            importlib.import_module(info.name)
        except Exception as error:  # noqa: BLE001 - any import error of a model is reported
            failures[info.name] = repr(error)
    return dict(_REGISTRY), failures
