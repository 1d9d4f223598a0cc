"""snn-digits: a two-layer spiking classifier on scikit-learn's bundled 8x8 handwritten digits
(1797 images, 10 classes). Small enough to train in seconds on a CPU, so the training runtime can be
run and tested end to end on real data: Linear -> LIF -> Linear -> leaky-integrator readout, the
class score being the readout membrane averaged over time."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from ... import nn as hnn
from ...options import SURROGATE_ALPHA
from ...train.config import TrainConfig, param
from ...train.registry import Experiment, StepContext


@dataclass
class SNNDigitsConfig(TrainConfig):
    epochs: int = param(30, "passes over the training set (ignored when max_steps > 0)", min=1)
    lr: float = param(3e-3, "peak learning rate", gt=0)
    time_steps: int = param(8, "simulation steps per image", min=1)
    hidden: int = param(128, "LIF neurons in the hidden layer", min=1)
    decay: float = param(0.5, "membrane decay of the LIF and readout neurons", min=0, max=1)
    threshold: float = param(1.0, "LIF firing threshold", gt=0)
    surrogate: str = param("atan", "surrogate gradient of the spike", choices=tuple(SURROGATE_ALPHA))
    encoding: str = param(
        "direct",
        "direct feeds the pixel intensities as a constant current; bernoulli "
        "feeds spikes with the intensity as firing probability",
        choices=("direct", "bernoulli"),
    )
    test_fraction: float = param(0.2, "held-out share of the images", gt=0, max=0.5)
    split_seed: int = param(
        0,
        "seed of the train/test split (kept apart from `seed` so that runs with "
        "different seeds are scored on the same images)",
        min=0,
    )


class DigitsSNN(nn.Module):
    def __init__(self, cfg: SNNDigitsConfig):
        super().__init__()
        self.fc1 = nn.Linear(64, cfg.hidden)
        self.lif = hnn.LIF(cfg.decay, cfg.threshold, surrogate=cfg.surrogate)
        self.fc2 = nn.Linear(cfg.hidden, 10)
        self.readout = hnn.LeakyIntegrator(cfg.decay)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x: [T, B, 64] input currents or spikes -> (logits [B, 10], hidden firing rate)."""
        spikes = self.lif(self.fc1(x))
        return self.readout(self.fc2(spikes)).mean(0), spikes.detach().float().mean()


class SNNDigits(Experiment):
    name = "snn-digits"
    description = "spiking MLP on scikit-learn's 8x8 digits"
    config_class = SNNDigitsConfig
    quick = {"epochs": 8}

    def build_model(self, cfg: SNNDigitsConfig) -> nn.Module:
        return DigitsSNN(cfg)

    def build_datasets(self, cfg: SNNDigitsConfig) -> tuple[TensorDataset, TensorDataset]:
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = torch.tensor(digits.data, dtype=torch.float32) / 16.0
        labels = torch.tensor(digits.target, dtype=torch.long)
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(cfg.split_seed))
        n_test = round(cfg.test_fraction * len(labels))
        test, train = order[:n_test], order[n_test:]
        return TensorDataset(images[train], labels[train]), TensorDataset(images[test], labels[test])

    def train_step(self, model: nn.Module, batch: tuple[Tensor, Tensor], ctx: StepContext):
        images, labels = batch
        currents = images.unsqueeze(0).expand(ctx.cfg.time_steps, *images.shape)
        if ctx.cfg.encoding == "bernoulli":
            currents = torch.bernoulli(currents, generator=ctx.generator)
        logits, rate = model(currents)
        logits = logits.float()
        loss = F.cross_entropy(logits, labels)
        acc = (logits.argmax(1) == labels).float().mean()
        return loss, {"acc": acc, "rate": rate}
