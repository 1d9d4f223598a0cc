"""The HMN's benchmark case (listed in hnn_fast.networks.BENCHMARK_MODELS)."""

import torch
import torch.nn.functional as F

from ...bench.models import ModelCase
from .model import N_INPUTS, SpikingBranch


def spiking_branch(device: torch.device, dtype: torch.dtype, preset: str) -> ModelCase:
    """One modulated step of the branch at the paper's size (2312-152-152-10, 10 steps)."""
    batch = {"tiny": 4, "quick": 32, "full": 128}.get(preset, 32)
    generator = torch.Generator().manual_seed(0)
    model = SpikingBranch().to(device, dtype)
    x = torch.poisson(torch.full((10, batch, N_INPUTS), 0.3), generator=generator).to(device, dtype)
    modulation = [(torch.rand(152, generator=generator) < 0.2).to(device, dtype) for _ in range(2)]
    target = torch.randint(0, 10, (batch,), generator=generator).to(device)
    return ModelCase(model, (x, modulation), target, lambda out, y: F.cross_entropy(out.float(), y))
