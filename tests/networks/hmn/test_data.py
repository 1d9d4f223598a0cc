"""The HMN's permuted task groups: block permutations of the event-digits input."""

import numpy as np
import pytest
import torch

from hnn_fast.networks.hmn.data import (
    N_INPUTS,
    PermutedDataset,
    PermutedTaskGroups,
    hamming_similarity,
    permute_sample,
)


def test_permutation_groups_structure():
    groups = PermutedTaskGroups(n_groups=6, seed=0)
    P = groups.permutations
    assert P.shape == (24, N_INPUTS) == (24, 2312)
    assert np.all(np.sort(P, axis=1) == np.arange(N_INPUTS))
    for g in range(6):
        rows = P[4 * g : 4 * g + 4]
        # Outside its block a task equals every other task of its group (the base permutation).
        for j in range(4):
            start, length = groups.blocks[4 * g + j]
            assert 300 <= length <= 400
            outside = np.ones(N_INPUTS, bool)
            outside[start : start + length] = False
            for k in range(4):
                other_start, other_len = groups.blocks[4 * g + k]
                both = outside.copy()
                both[other_start : other_start + other_len] = False
                assert np.array_equal(rows[j][both], rows[k][both])


def test_similarity_matches_hamming_and_groups():
    groups = PermutedTaskGroups(n_groups=5, seed=2)
    S = groups.similarity()
    P = groups.permutations
    for i, j in [(0, 1), (0, 5), (3, 2), (7, 19), (10, 10)]:
        assert S[i, j] == pytest.approx(1 - np.mean(P[i] != P[j]))
    same = groups.groups[:, None] == groups.groups[None, :]
    off_diag = ~np.eye(len(groups), dtype=bool)
    assert np.all(np.diag(S) == 1) and np.allclose(S, S.T)
    # Two tasks of a group differ on at most their two blocks (<= 800 of 2312 positions).
    assert S[same & off_diag].min() >= 1 - 800 / N_INPUTS
    assert S[~same].max() < 0.02
    np.testing.assert_array_equal(hamming_similarity(P[:3]), S[:3, :3])


def test_permutation_groups_seeded():
    a, b = PermutedTaskGroups(3, seed=4), PermutedTaskGroups(3, seed=4)
    np.testing.assert_array_equal(a.permutations, b.permutations)
    assert not np.array_equal(a.permutations, PermutedTaskGroups(3, seed=5).permutations)
    with pytest.raises(ValueError, match="n_groups"):
        PermutedTaskGroups(0)


def test_permute_sample():
    perm = PermutedTaskGroups(1).permutations[0]
    x = torch.randn(3, 2, 34, 34)
    y = permute_sample(x, torch.from_numpy(perm))
    assert y.shape == x.shape
    for t in range(3):
        assert torch.equal(y[t].reshape(-1), x[t].reshape(-1)[perm])
    inverse = np.argsort(perm)
    assert torch.equal(permute_sample(y, torch.from_numpy(inverse)), x)
    np.testing.assert_array_equal(permute_sample(x.numpy(), perm), y.numpy())
    ds = PermutedDataset([(x, 4)], perm)
    px, label = ds[0]
    assert torch.equal(px, y) and label == 4
    with pytest.raises(ValueError, match="perm"):
        permute_sample(x, perm[:-1])
