"""Permuted tasks in groups of similar tasks, as in the HMN experiment of the HNN paper.

Every group draws a base permutation of the inputs; each task of the group copies it and
reshuffles one contiguous block of 300-400 positions. Tasks of a group therefore agree on most
positions (similarity ~0.7) while tasks of different groups agree on almost none (~0). Task
similarity is ``1 - hamming(p_i, p_j)``, the fraction of positions where two permutations agree
(Eq. 16 of the paper).
"""

from __future__ import annotations

import numpy as np
import torch

N_INPUTS = 2 * 34 * 34


def hamming_similarity(perms) -> np.ndarray:
    """``[K, K]`` matrix of ``1 - normalised Hamming distance`` between rows of ``perms [K, n]``."""
    p = np.asarray(perms)
    if p.ndim != 2:
        raise ValueError(f"perms must be [K, n], got shape {p.shape}")
    k, n = p.shape
    out = np.empty((k, k))
    # Row blocks bound the [rows, K, n] comparison to a few tens of MB for hundreds of tasks.
    rows = max(1, (1 << 24) // max(1, k * n))
    for i in range(0, k, rows):
        out[i : i + rows] = (p[i : i + rows, None, :] == p[None, :, :]).mean(axis=-1)
    return out


class PermutedTaskGroups:
    """``n_groups`` groups of ``tasks_per_group`` permutations of ``n_inputs`` indices.

    Attributes:
        permutations: ``int64 [n_tasks, n_inputs]``; task ``g * tasks_per_group + j`` is task
            ``j`` of group ``g``. Output position ``i`` of a permuted sample reads input
            ``permutations[task, i]``.
        groups: ``[n_tasks]`` group index of each task.
        blocks: ``[n_tasks, 2]`` start and length of the reshuffled block of each task.
    """

    def __init__(
        self,
        n_groups: int,
        seed: int = 0,
        tasks_per_group: int = 4,
        n_inputs: int = N_INPUTS,
        block_min: int = 300,
        block_max: int = 400,
    ):
        if int(n_groups) < 1:
            raise ValueError(f"n_groups must be >= 1, got {n_groups}")
        if int(tasks_per_group) < 1:
            raise ValueError(f"tasks_per_group must be >= 1, got {tasks_per_group}")
        if not 2 <= block_min <= block_max <= n_inputs:
            raise ValueError(
                f"need 2 <= block_min <= block_max <= n_inputs, got {block_min}, {block_max}, {n_inputs}"
            )
        self.n_groups, self.tasks_per_group, self.n_inputs = (
            int(n_groups),
            int(tasks_per_group),
            int(n_inputs),
        )
        rng = np.random.default_rng(seed)
        n_tasks = self.n_groups * self.tasks_per_group
        self.permutations = np.empty((n_tasks, self.n_inputs), dtype=np.int64)
        self.blocks = np.empty((n_tasks, 2), dtype=np.int64)
        for g in range(self.n_groups):
            base = rng.permutation(self.n_inputs)
            for j in range(self.tasks_per_group):
                task = g * self.tasks_per_group + j
                length = int(rng.integers(block_min, block_max + 1))
                start = int(rng.integers(0, self.n_inputs - length + 1))
                perm = base.copy()
                perm[start : start + length] = base[start : start + length][rng.permutation(length)]
                self.permutations[task] = perm
                self.blocks[task] = (start, length)
        self.groups = np.repeat(np.arange(self.n_groups), self.tasks_per_group)

    def __len__(self) -> int:
        return self.permutations.shape[0]

    def similarity(self) -> np.ndarray:
        """Task similarity matrix ``[n_tasks, n_tasks]`` (1 on the diagonal)."""
        return hamming_similarity(self.permutations)

    def permutation(self, task: int) -> torch.Tensor:
        return torch.from_numpy(self.permutations[task])


def permute_sample(x, perm):
    """Permute the flattened last three dims of ``x [..., 2, 34, 34]`` (torch or numpy); the
    result keeps ``x``'s shape, so position ``i`` of the flattened result is input ``perm[i]``."""
    shape = tuple(x.shape)
    if len(shape) < 3:
        raise ValueError(f"x must have at least 3 dims [..., C, H, W], got shape {shape}")
    n = shape[-3] * shape[-2] * shape[-1]
    if perm.shape[-1] != n or len(perm.shape) != 1:
        raise ValueError(f"perm must be a permutation of {n} indices, got shape {tuple(perm.shape)}")
    if isinstance(x, torch.Tensor):
        perm = torch.as_tensor(perm, device=x.device)
    flat = x.reshape(*shape[:-3], n)
    return flat[..., perm].reshape(shape)


class PermutedDataset(torch.utils.data.Dataset):
    """A dataset seen through one task's permutation: ``(permuted sample, label)``."""

    def __init__(self, base, perm):
        self.base = base
        self.perm = torch.as_tensor(perm, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i):
        x, y = self.base[i]
        return permute_sample(x, self.perm), y
