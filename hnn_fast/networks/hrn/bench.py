"""The HRN's benchmark cases (listed in hnn_fast.networks.BENCHMARK_MODELS): the spiking reasoner
(graph built from the perceived scene by Hebbian learning, program stimuli from a designable HU) and
the learnable collision HU (1-D UNet with two MLP heads)."""

import torch
import torch.nn.functional as F
from torch import nn

from ...bench.models import ModelCase
from .collision_hu import CHANNELS, CollisionUNet
from .evaluation import items_of
from .executor import World
from .questions import generate_questions
from .reasoner import SpikingReasoner
from .scenes import NUM_FRAMES, generate_scenes


class _ReasonerStep(nn.Module):
    """One batched reasoner call (graph construction included) over a fixed set of videos."""

    def __init__(self, worlds: list[World]):
        super().__init__()
        self.worlds = worlds
        self.reasoner = SpikingReasoner()

    def forward(self, programs: list[list[str]], scene_of: list[int]) -> list[str]:
        return self.reasoner(programs, self.worlds, scene_of).answers


def reasoner(device: torch.device, dtype: torch.dtype, preset: str) -> ModelCase:
    """Generated questions of every type over generated videos, answered in one batched call;
    inference only: the reasoner's weights come from Hebbian construction, not gradients."""
    videos = {"tiny": 4, "quick": 32, "full": 128}.get(preset, 32)
    scenes = generate_scenes(videos, seed=0)
    items, _ = items_of(generate_questions(scenes, per_scene=8, seed=0), scenes)
    model = _ReasonerStep([World(s) for s in scenes])
    return ModelCase(
        model, ([it.program for it in items], [it.scene for it in items]), None, None, trainable=False
    )


def collision_hu(device: torch.device, dtype: torch.dtype, preset: str) -> ModelCase:
    """The collision HU on pairs of trajectories; it uses no hnn_fast op, so fused and reference
    time the same network (a ratio near 1 is the expected result)."""
    batch = {"tiny": 8, "quick": 64, "full": 256}.get(preset, 64)
    generator = torch.Generator().manual_seed(0)
    model = CollisionUNet().to(device, dtype)
    x = torch.randn(batch, CHANNELS, NUM_FRAMES, generator=generator).to(device, dtype)
    target = torch.randint(0, 2, (batch,), generator=generator).to(device)
    return ModelCase(model, (x,), target, lambda out, y: F.cross_entropy(out[0].float(), y))
