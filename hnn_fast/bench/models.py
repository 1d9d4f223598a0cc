"""The models the benchmark suite times: the networks' cases listed in
hnn_fast.networks.BENCHMARK_MODELS, and any a user adds with register_model:

    from hnn_fast.bench import ModelCase, register_model

    @register_model("mine")
    def _bench_mine(device, dtype, preset):
        model = Mine().to(device, dtype)
        x, y = ...  # a batch sized for the preset ("tiny", "quick" or "full")
        return ModelCase(model, (x,), y, torch.nn.functional.cross_entropy)

One training step and one inference step of each are timed on the fused ops and on the reference
ops (hnn_fast.set_backend("reference"))."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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


def model_factories() -> tuple[dict[str, ModelFactory], dict[str, str]]:
    """(every model's factory, {model: why it failed to import}): a network that does not import is
    reported, not allowed to stop the suite."""
    from .. import networks

    factories, failures = {}, {}
    for name, entry in networks.BENCHMARK_MODELS.items():
        try:
            factories[name] = networks.load(entry)
        except Exception as error:
            failures[name] = repr(error)
    factories.update(_REGISTRY)
    return factories, failures
