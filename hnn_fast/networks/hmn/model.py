"""Hybrid modulation network (HMN) of the HNN paper (Results "Hybrid modulation network", Methods
Eq. 14-19): an ANN backbone with modulation HUs tells a spiking branch which of its hidden neurons to
use for a task.

- `HMNModulator`: the backbone 2312-512-512 (ReLU) on the time-averaged input (or, for the paper's
  SNN-only ablation, LIF on the spike input), and one `ModulationHU` head per hidden layer of the
  branch, each giving a gate per neuron: in (0, 1), or 0/1 with binarize=True (the HU's Q stage,
  straight-through gradient).
- `similarity_loss`: the task-similarity objective (Eq. 14-16) that trains the modulator.
- `task_modulation`: a task's binary modulation vector (Eq. 17), the mean gate over the task's
  samples thresholded at 1/2.
- `SpikingBranch`: the SNN 2312-H-H-10; a task's modulation either raises the threshold of its
  gated-off neurons out of reach (Eq. 19, `modulation="threshold"`, the paper) or multiplies their
  spikes by 0 (`modulation="gate"`, the authors' code). Either way a gated-off neuron neither fires
  nor receives a gradient, so learning one task leaves the neurons it does not use untouched.
- `ANNBranch`: the branch of the paper's ANN-only ablation (Fig. 3g), a ReLU MLP with the same
  modulation.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ... import nn as hnn

N_INPUTS = 2 * 34 * 34
MODULATIONS = ("threshold", "gate")


class HMNModulator(nn.Module):
    """Backbone + modulation HUs: time-averaged input [B, n_inputs] -> one gate [B, H_l] per branch
    hidden layer l. k is the sharpness of the HU's sigmoid (the authors' code uses 100).

    binarize=True gives 0/1 gates (Q at 1/2) with the sigmoid's gradient passed straight through. A
    soft gate trained on Eq. 14 saturates within the first epoch (sigmoid(k x) at 0 or 1 for nearly
    every neuron); a neuron then off for every task gets no gradient and stays unused, while the
    others are shared by ever more groups. With binary gates nothing rewards saturation, the
    pre-activations stay near the threshold, and the loss can still move a neuron from a crowded
    group to an unused one (measured in README.md beside this file)."""

    def __init__(
        self,
        n_inputs: int = N_INPUTS,
        hidden: Sequence[int] = (512, 512),
        branch_hidden: Sequence[int] = (152, 152),
        k: float = 1.0,
        binarize: bool = False,
        spiking: bool = False,
    ):
        super().__init__()
        if not hidden or not branch_hidden:
            raise ValueError(
                f"hidden and branch_hidden need at least one layer, got {hidden!r}, {branch_hidden!r}"
            )
        self.spiking = bool(spiking)
        layers: list[nn.Module] = []
        width = n_inputs
        for h in hidden:
            # The spiking backbone's neurons are the branch's defaults (decay 0.8, threshold 0.5).
            layers += [nn.Linear(width, h), hnn.LIF(0.8, 0.5) if spiking else nn.ReLU()]
            width = h
        self.backbone = nn.Sequential(*layers)
        self.heads = nn.ModuleList(hnn.ModulationHU(width, h, k=k, binarize=binarize) for h in branch_hidden)

    def forward(self, x: Tensor) -> list[Tensor]:
        """x: [B, n_inputs] time-averaged, or with spiking=True the spike input [T, B, n_inputs], whose
        last backbone layer's spike rate (the mean over T, an S2A HU) feeds the heads."""
        features = self.backbone(x)
        if self.spiking:
            features = features.mean(0)
        return [head(features) for head in self.heads]


def similarity_loss(
    gates: Sequence[Tensor],
    tasks: Tensor,
    groups: Tensor,
    task_similarity: Tensor,
    *,
    lam: float = 1.0,
    mu: float = 10.0,
    rho: float = 0.1,
) -> Tensor:
    """Eq. 14 over all pairs of distinct samples of a batch, summed over the heads.

    gates: per head, [B, H] gates in [0, 1]. tasks, groups: [B] task and group index of each sample.
    task_similarity: [n_tasks, n_tasks] S_ta (Eq. 16: 1 - normalised Hamming distance).
    A pair costs (S_ta - S_V)^2 - lam * S_ta * S_V, S_V the cosine similarity of its gates (Eq. 15).
    Pairs fall in three kinds (same task, same group, different groups) whose numbers in a random
    batch differ by orders of magnitude; each kind present gets the same weight, so the rare
    within-group pairs are not drowned out. The sparsity term mu * max(rho - mean gate, 0) per sample
    keeps every gate vector at least rho on average (as the authors' code reads the paper's
    max(rho - ||.||_1, 0)); without it all gates could fall to zero.
    """
    if tasks.shape != groups.shape or tasks.dim() != 1:
        raise ValueError(f"tasks and groups must be [B], got {tuple(tasks.shape)} and {tuple(groups.shape)}")
    s_ta = task_similarity[tasks[:, None], tasks[None, :]].to(gates[0].dtype)
    distinct = ~torch.eye(tasks.shape[0], dtype=torch.bool, device=tasks.device)
    same_task = tasks[:, None] == tasks[None, :]
    same_group = groups[:, None] == groups[None, :]
    kinds = [same_task & distinct, same_group & ~same_task, ~same_group]
    total = gates[0].new_zeros(())
    for g in gates:
        if g.shape[0] != tasks.shape[0]:
            raise ValueError(f"gates have batch {g.shape[0]}, tasks {tasks.shape[0]}")
        unit = F.normalize(g.flatten(1), dim=1, eps=1e-8)
        s_v = unit @ unit.T
        cost = (s_ta - s_v) ** 2 - lam * s_ta * s_v
        present = [k for k in kinds if k.any()]
        total = total + sum(cost[k].mean() for k in present) / max(len(present), 1)
        total = total + mu * torch.relu(rho - g.flatten(1).mean(1)).mean()
    return total


@torch.no_grad()
def task_modulation(modulator: HMNModulator, batches: Iterable[Tensor]) -> list[Tensor]:
    """Eq. 17: the task's binary modulation vector per head, 1 where the gate averaged over all of
    the task's samples (in batches of what the modulator takes) is >= 1/2."""
    sums: list[Tensor] | None = None
    count = 0
    for x in batches:
        gates = modulator(x)
        batch = [g.sum(0) for g in gates]
        sums = batch if sums is None else [s + b for s, b in zip(sums, batch)]
        count += gates[0].shape[0]
    if sums is None:
        raise ValueError("task_modulation needs at least one batch of the task's samples")
    return [(s / count >= 0.5).float() for s in sums]


class SpikingBranch(nn.Module):
    """SNN n_inputs-H-...-H-classes on [T, B, n_inputs]; logits are the time-mean of the last
    (non-spiking) layer's input, i.e. a linear readout of the hidden spike rates.

    forward(x, modulation) takes one 0/1 (or [0, 1]) vector per hidden layer, [H] or [B, H], or None
    (every neuron on: the plain SNN). modulation="threshold": a neuron's threshold is
    threshold + (1 - m) * v_T (Eq. 19, with the base threshold kept for m = 1); "gate": its spikes
    are multiplied by m. rescale: a modulated layer's spikes are scaled by H / (neurons on), as in
    inverted dropout, so that the next layer's input keeps its size whatever the density (without it
    a branch using 10 % of its neurons starts with tiny logits and learns several times slower).
    """

    def __init__(
        self,
        n_inputs: int = N_INPUTS,
        hidden: Sequence[int] = (152, 152),
        classes: int = 10,
        *,
        decay: float = 0.8,
        threshold: float = 1.0,
        surrogate: str = "rectangle",
        modulation: str = "threshold",
        v_T: float = 1e4,
        rescale: bool = True,
    ):
        super().__init__()
        if modulation not in MODULATIONS:
            raise ValueError(f"modulation must be one of {MODULATIONS}, got {modulation!r}")
        if v_T <= 0:
            raise ValueError(f"v_T must be > 0, got {v_T}")
        widths = [n_inputs, *hidden]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(widths))
        self.neurons = nn.ModuleList(hnn.LIF(decay, threshold, surrogate=surrogate) for _ in hidden)
        self.readout = nn.Linear(widths[-1], classes)
        self.threshold, self.modulation, self.v_T = float(threshold), modulation, float(v_T)
        self.rescale = bool(rescale)

    def forward(self, x: Tensor, modulation: Sequence[Tensor] | None = None) -> Tensor:
        if modulation is not None and len(modulation) != len(self.layers):
            raise ValueError(
                f"modulation needs one vector per hidden layer ({len(self.layers)}), got {len(modulation)}"
            )
        h = x
        for i, (layer, lif) in enumerate(zip(self.layers, self.neurons)):
            current = layer(h)
            m = None if modulation is None else modulation[i].to(current.dtype)
            if m is None:
                h = lif(current)
                continue
            if self.modulation == "threshold":
                # The mask changes no spike (a neuron v_T above its threshold is silent); it stops the
                # tail of a smooth surrogate (atan, fast_sigmoid) from leaking a tiny gradient into
                # gated-off neurons, which Adam would scale up to a full-size step.
                h = lif(current, threshold=self.threshold + (1 - m) * self.v_T) * m
            else:
                h = lif(current) * m
            h = _rescaled(h, m, self.rescale)
        return self.readout(h).mean(0)


def _rescaled(h: Tensor, m: Tensor, rescale: bool) -> Tensor:
    """Inverted-dropout scaling of a modulated layer's output: H / (neurons on)."""
    return h * (m.shape[-1] / m.sum(-1, keepdim=True).clamp_min(1)) if rescale else h


class ANNBranch(nn.Module):
    """The branch of the paper's ANN-only ablation (Fig. 3g): ReLU MLP n_inputs-H-...-H-classes on the
    time-averaged input [T, B, n_inputs] -> [B, classes]. A task's modulation multiplies each hidden
    layer's activations (a ReLU whose threshold is raised out of reach outputs 0 and passes no
    gradient), rescaled as in SpikingBranch."""

    def __init__(
        self,
        n_inputs: int = N_INPUTS,
        hidden: Sequence[int] = (152, 152),
        classes: int = 10,
        *,
        rescale: bool = True,
    ):
        super().__init__()
        widths = [n_inputs, *hidden]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(widths))
        self.readout = nn.Linear(widths[-1], classes)
        self.rescale = bool(rescale)

    def forward(self, x: Tensor, modulation: Sequence[Tensor] | None = None) -> Tensor:
        if modulation is not None and len(modulation) != len(self.layers):
            raise ValueError(
                f"modulation needs one vector per hidden layer ({len(self.layers)}), got {len(modulation)}"
            )
        h = x.mean(0)
        for i, layer in enumerate(self.layers):
            h = F.relu(layer(h))
            if modulation is not None:
                m = modulation[i].to(h.dtype)
                h = _rescaled(h * m, m, self.rescale)
        return self.readout(h)
