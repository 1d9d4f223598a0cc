"""The HSN's benchmark case (listed in hnn_fast.networks.BENCHMARK_MODELS)."""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...bench.models import ModelCase
from .model import HSN


class _EventPathway(nn.Module):
    """The part of the HSN that runs between frames: the where-SNN over a frame interval's event bins
    and the HU, from a fresh state every call so that repeated benchmark steps do the same work."""

    def __init__(self, net: HSN):
        super().__init__()
        self.net = net

    def forward(self, events: Tensor) -> Tensor:
        self.net.where.reset_state()
        return self.net.delta(events)


def event_pathway(device: torch.device, dtype: torch.dtype, preset: str) -> ModelCase:
    """One frame interval (10 event bins) of the default 64x64 sensor through the event pathway."""
    batch = {"tiny": 2, "quick": 8, "full": 32}.get(preset, 8)
    generator = torch.Generator().manual_seed(0)
    model = _EventPathway(HSN()).to(device, dtype)
    events = torch.poisson(torch.full((10, batch, 2, 64, 64), 0.05), generator=generator).to(device, dtype)
    with torch.no_grad():
        target = torch.zeros_like(model(events))
    return ModelCase(model, (events,), target, lambda out, y: F.mse_loss(out.float(), y.float()))
