"""The paper's three ways to train a learnable HU (Fig. 1e), as parameter groups and one small loop:

1. jointly with the network it is installed in: the HU is a submodule, so the network's optimiser
   over `network_parameters(net) + hu_parameters(net)` (that is, net.parameters()) trains both;
2. independently, on its own objective: `fit(hu, objective, batches)` trains the HU alone, then
   `set_trainable(hu, False)` freezes it and it is installed into the model as any submodule;
3. with the complete model: the whole hybrid model's loss trains every group, or only the groups left
   trainable (`set_trainable(net, False)` first trains the HUs alone inside the complete model).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn

from .hybrid_units import HybridUnit


def set_trainable(module: nn.Module, trainable: bool) -> nn.Module:
    """requires_grad of every parameter of module set to trainable; returns module."""
    if not isinstance(trainable, bool):
        raise TypeError(f"trainable must be a bool, got {trainable!r}")
    for p in module.parameters():
        p.requires_grad_(trainable)
    return module


def _hu_parameter_ids(model: nn.Module) -> set[int]:
    return {id(p) for m in model.modules() if isinstance(m, HybridUnit) for p in m.parameters()}


def hu_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters of the hybrid units in model."""
    ids = _hu_parameter_ids(model)
    return [p for p in model.parameters() if id(p) in ids]


def network_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters of model outside its hybrid units."""
    ids = _hu_parameter_ids(model)
    return [p for p in model.parameters() if id(p) not in ids]


def fit(
    module: nn.Module,
    objective: Callable[[nn.Module, object], Tensor],
    batches: Iterable,
    *,
    lr: float = 1e-2,
) -> list[float]:
    """Trains module alone with Adam on objective(module, batch) over batches; returns the losses."""
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"{type(module).__name__} has no trainable parameters to fit")
    opt = torch.optim.Adam(params, lr=lr)
    losses = []
    for batch in batches:
        loss = objective(module, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses
