"""HMN: the task-similarity loss (Eq. 14-16), task modulation vectors (Eq. 17), threshold modulation
(Eq. 19) and a tiny end-to-end run of both stages through `hnn-fast train hmn`, in one process and in
two under torchrun."""

import json

import pytest
import torch

from hnn_fast.networks.hmn.model import (
    ANNBranch,
    HMNModulator,
    SpikingBranch,
    similarity_loss,
    task_modulation,
)
from hnn_fast.train import ConfigError, load_checkpoint, train

from helpers import torchrun_train


def test_similarity_loss_hand_computed():
    # cos(g0, g1) = 0.96, cos(g0, g2) = 0.6, cos(g1, g2) = 0.8
    gates = torch.tensor([[0.6, 0.8], [0.8, 0.6], [1.0, 0.0]])
    tasks, groups = torch.tensor([0, 1, 2]), torch.tensor([0, 0, 1])
    s_ta = torch.tensor([[1.0, 0.7, 0.1], [0.7, 1.0, 0.0], [0.1, 0.0, 1.0]])
    # same group (0,1): (0.7-0.96)^2 - 0.7*0.96 = -0.6044; across groups: (0.25 - 0.06 + 0.64) / 2 = 0.415;
    # the two kinds weigh equally; density term: mu * mean(relu(0.6 - [0.7, 0.7, 0.5])) = 3 * 0.1 / 3
    expected = (-0.6044 + 0.415) / 2 + 0.1
    loss = similarity_loss([gates], tasks, groups, s_ta, lam=1.0, mu=3.0, rho=0.6)
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    # lambda = 0 leaves the squared errors only; a second head adds its own terms
    loss = similarity_loss([gates, gates], tasks, groups, s_ta, lam=0.0, mu=0.0, rho=0.6)
    assert loss.item() == pytest.approx(2 * (0.0676 + (0.25 + 0.64) / 2) / 2, abs=1e-6)


def test_similarity_loss_same_task_pairs_and_gradient():
    gates = torch.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    tasks = groups = torch.tensor([0, 0])
    loss = similarity_loss([gates], tasks, groups, torch.ones(1, 1), lam=0.5, mu=0.0)
    # one kind (same task): S_ta = 1, S_V = 0 -> (1 - 0)^2 - 0 = 1
    assert loss.item() == pytest.approx(1.0)
    loss.backward()
    assert gates.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="tasks and groups"):
        similarity_loss([gates], tasks, torch.tensor([0]), torch.ones(1, 1))


def test_task_modulation_averages_then_binarises():
    torch.manual_seed(0)
    mod = HMNModulator(12, (8,), (5, 3), k=4.0)
    x = torch.randn(10, 12)
    vectors = task_modulation(mod, [x[:4], x[4:]])
    gates = mod(x)
    assert [v.shape for v in vectors] == [torch.Size([5]), torch.Size([3])]
    for v, g in zip(vectors, gates):
        torch.testing.assert_close(v, (g.mean(0) >= 0.5).float())
    with pytest.raises(ValueError, match="at least one batch"):
        task_modulation(mod, [])


def test_binarized_gates_are_zero_one_with_straight_through_gradient():
    torch.manual_seed(0)
    soft = HMNModulator(12, (8,), (5, 3), k=1.0)
    hard = HMNModulator(12, (8,), (5, 3), k=1.0, binarize=True)
    hard.load_state_dict(soft.state_dict())
    x = torch.randn(10, 12)
    for g_soft, g_hard in zip(soft(x), hard(x)):
        torch.testing.assert_close(g_hard, (g_soft >= 0.5).float())
    # the gradient is the soft gate's: Q passes it straight through
    sum(g.sum() for g in soft(x)).backward()
    sum(g.sum() for g in hard(x)).backward()
    for p_soft, p_hard in zip(soft.parameters(), hard.parameters()):
        torch.testing.assert_close(p_hard.grad, p_soft.grad)
    assert hard.heads[0].nonlinearity[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("balance", [True, False])
def test_stage1_set_weighs_groups_equally(balance):
    from types import SimpleNamespace

    from hnn_fast.networks.hmn.experiment import _Stage1Set

    # groups 0 and 1 fully seen (tasks 0-3), test group 2 half seen (task 4 of tasks 4, 5)
    data = SimpleNamespace(
        stage1_tasks=[0, 1, 2, 3, 4],
        groups=torch.tensor([0, 0, 1, 1, 2, 2]),
        perms=[torch.randperm(3) for _ in range(6)],
    )
    avg = torch.arange(15.0).reshape(5, 3)
    dataset = _Stage1Set(avg, data, per_task=3, tasks_per_group=2, balance=balance)
    tasks = torch.tensor([dataset[i][1] for i in range(len(dataset))])
    groups = torch.tensor([int(dataset[i][2]) for i in range(len(dataset))])
    assert torch.bincount(tasks).tolist() == ([3, 3, 3, 3, 6] if balance else [3, 3, 3, 3, 3])
    assert torch.bincount(groups).tolist() == ([6, 6, 6] if balance else [6, 6, 3])
    # the sixth sample of task 4 is avg[0] again (5 samples), permuted by the task's permutation
    x, task, _ = dataset[len(dataset) - 1]
    assert task == 4
    torch.testing.assert_close(x, avg[(len(dataset) - 1 - 12) % 5][data.perms[4]])


def test_ewc_fisher_of_a_modulated_branch_skips_gated_off_neurons():
    from hnn_fast.networks.hmn.experiment import _EWC

    torch.manual_seed(3)
    branch = SpikingBranch(20, (6, 6), 3, threshold=0.3, surrogate="atan")
    dataset = [(torch.rand(5, 20) * 10, i % 3) for i in range(4)]
    on = [torch.tensor([1.0, 0, 1, 0, 1, 1]), torch.tensor([0.0, 1, 1, 0, 1, 0])]
    ewc = _EWC(1.0)
    ewc.consolidate(branch, dataset, 4, torch.device("cpu"), on)
    assert ewc.fisher["layers.0.weight"][on[0] == 0].abs().sum() == 0
    assert ewc.fisher["layers.0.weight"][on[0] == 1].abs().sum() > 0
    assert ewc.fisher["readout.weight"][:, on[1] == 0].abs().sum() == 0
    assert ewc.penalty(branch).item() == 0  # at the anchor


@pytest.mark.parametrize("modulation", ["threshold", "gate"])
def test_gated_off_neurons_are_silent_and_frozen(modulation):
    torch.manual_seed(0)
    # atan: a surrogate that is nowhere zero, so only the modulation can make a gradient vanish
    branch = SpikingBranch(20, (6, 6), 3, threshold=0.3, modulation=modulation, surrogate="atan")
    x = torch.rand(5, 4, 20) * 10
    on = [torch.tensor([1.0, 0, 1, 0, 1, 1]), torch.tensor([0.0, 1, 1, 0, 1, 0])]
    branch(x, on).pow(2).sum().backward()
    for layer, m in zip(branch.layers, on):
        off = m == 0
        assert layer.weight.grad[off].abs().sum() == 0 and layer.bias.grad[off].abs().sum() == 0
        assert layer.weight.grad[~off].abs().sum() > 0
    assert branch.readout.weight.grad[:, on[1] == 0].abs().sum() == 0
    plain = branch(x)
    assert plain.shape == (4, 3)
    with pytest.raises(ValueError, match="one vector per hidden layer"):
        branch(x, on[:1])


def test_ann_branch_gates_and_rescales_like_the_spiking_branch():
    torch.manual_seed(4)
    branch = ANNBranch(20, (6, 6), 3)
    x = torch.rand(5, 4, 20)
    on = [torch.tensor([1.0, 0, 1, 0, 1, 1]), torch.tensor([0.0, 1, 1, 0, 1, 0])]
    branch(x, on).pow(2).sum().backward()
    for layer, m in zip(branch.layers, on):
        assert layer.weight.grad[m == 0].abs().sum() == 0 and layer.bias.grad[m == 0].abs().sum() == 0
    assert branch.readout.weight.grad[:, on[1] == 0].abs().sum() == 0
    # the input is averaged over time; every neuron on with rescale is the plain branch
    plain = branch(x)
    torch.testing.assert_close(plain, branch(x.mean(0, keepdim=True)))
    torch.testing.assert_close(plain, branch(x, [torch.ones(6), torch.ones(6)]))
    with pytest.raises(ValueError, match="one vector per hidden layer"):
        branch(x, on[:1])


def test_spiking_backbone_reads_the_spike_rate():
    torch.manual_seed(5)
    mod = HMNModulator(12, (8,), (5, 3), spiking=True, binarize=True)
    x = (torch.rand(6, 4, 12) < 0.5).float()
    gates = mod(x)
    assert [g.shape for g in gates] == [torch.Size([4, 5]), torch.Size([4, 3])]
    spikes = mod.backbone(x)
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(gates[0], (mod.heads[0](spikes.mean(0)) >= 0.5).float())
    sum(g.sum() for g in gates).backward()
    assert mod.backbone[0].weight.grad.abs().sum() > 0  # through the LIF surrogate


def test_threshold_and_gate_modulation_agree():
    torch.manual_seed(1)
    a = SpikingBranch(20, (6, 6), 3, threshold=0.3, modulation="threshold")
    b = SpikingBranch(20, (6, 6), 3, threshold=0.3, modulation="gate")
    b.load_state_dict(a.state_dict())
    x = torch.rand(5, 4, 20) * 2
    on = [torch.tensor([1.0, 0, 1, 0, 1, 1]), torch.tensor([0.0, 1, 1, 0, 1, 0])]
    torch.testing.assert_close(a(x, on), b(x, on))
    with pytest.raises(ValueError, match="modulation must be"):
        SpikingBranch(20, (6,), 3, modulation="multiply")


def test_rescale_is_a_config_choice():
    from hnn_fast.networks.hmn.experiment import HMNConfig, _branch

    assert _branch(HMNConfig(hidden=6)).rescale and not _branch(HMNConfig(hidden=6, rescale=False)).rescale
    torch.manual_seed(2)
    on = SpikingBranch(20, (6,), 3, threshold=0.3)
    off = SpikingBranch(20, (6,), 3, threshold=0.3, rescale=False)
    off.load_state_dict(on.state_dict())
    x = torch.rand(5, 4, 20) * 10
    half = [torch.tensor([1.0, 1, 0, 0, 0, 0])]
    torch.testing.assert_close(on(x), off(x))  # the plain branch is never rescaled
    bias = on.readout.bias
    torch.testing.assert_close(on(x, half) - bias, 3 * (off(x, half) - bias))  # 6 neurons / 2 on


TINY = [
    "groups=3",
    "test_groups=1",
    "tasks_per_group=2",
    "data_limit=120",
    "hidden=12",
    "backbone_hidden=24",
    "epochs=2",
    "stage1_epochs=2",
    "stage1_per_task=32",
    "stage1_batch_size=32",
    "batch_size=16",
    "fisher_samples=4",
    "time_bins=2",
]


def test_tiny_end_to_end_and_resume(tmp_path):
    full = train("hmn", overrides=TINY, out_dir=tmp_path / "full", progress=False)
    assert full.status == "completed"
    results = json.loads((tmp_path / "full" / "results.json").read_text())
    assert (tmp_path / "full" / "hmn.png").stat().st_size > 0
    assert results["test_tasks"] == [4, 5] and results["seen_in_stage1"] == [True, False]
    assert list(results["methods"]) == ["hmn", "snn", "ewc", "hmn+ewc", "ann-only", "snn-only"]
    for method in results["methods"]:
        rec = results["methods"][method]
        matrix = rec["accuracy_matrix"]
        assert matrix[0][1] is None and all(0 <= a <= 1 for a in (matrix[0][0], matrix[1][0], matrix[1][1]))
        assert rec["mean_accuracy"] == pytest.approx([matrix[0][0], (matrix[1][0] + matrix[1][1]) / 2])
    sim = results["modulation"]["similarity"]
    assert -1e-6 <= sim["within_group"] <= 1 + 1e-6 and sim["across_group"] is None  # one test group
    assert 0 < results["modulation"]["density"] <= 1
    # finished phases keep their weights but not Adam's moments (every task starts a fresh Adam)
    for phase in ("stage1", "hmn/task_01", "ewc/task_00"):
        state = load_checkpoint(tmp_path / "full" / phase / "checkpoints" / "last.pt")
        assert state["optimizer"]["state"] == {} and state["optimizer"]["param_groups"] and state["model"]
    assert (tmp_path / "full" / "ewc" / "task_01" / "results.json").exists()
    assert (tmp_path / "full" / "hmn+ewc" / "task_01" / "results.json").exists()
    assert (tmp_path / "full" / "stage1-snn" / "checkpoints" / "last.pt").exists()
    assert 0 < results["modulation_spiking_backbone"]["density"] <= 1

    # stopped inside stage 2 and resumed: the same accuracies as the run that never stopped
    stopped = train(
        "hmn", overrides=TINY, out_dir=tmp_path / "cut", progress=False, stop_at_step=full.step - 3
    )
    assert stopped.status == "stopped" and stopped.step == full.step - 3
    resumed = train("hmn", resume=tmp_path / "cut", progress=False)
    assert resumed.status == "completed" and resumed.step == full.step
    again = json.loads((tmp_path / "cut" / "results.json").read_text())
    assert again["methods"] == results["methods"]
    assert again["modulation"]["similarity_matrix"] == results["modulation"]["similarity_matrix"]
    # a checkpoint file of any phase names the run it belongs to, as a single run's does
    phase_checkpoint = tmp_path / "cut" / "hmn" / "task_01" / "checkpoints" / "last.pt"
    from_phase = train("hmn", resume=phase_checkpoint, progress=False)
    assert from_phase.out_dir == tmp_path / "cut" and from_phase.step == full.step

    with pytest.raises(ConfigError, match="already holds a run"):
        train("hmn", overrides=TINY, out_dir=tmp_path / "full", progress=False)
    with pytest.raises(ConfigError, match="methods"):
        train("hmn", overrides=[*TINY, "methods=hmn,foo"], out_dir=tmp_path / "bad", progress=False)
    with pytest.raises(ConfigError, match="time_bins"):
        train("hmn", overrides=[*TINY, "time_bins=3"], out_dir=tmp_path / "bad2", progress=False)


def test_hmn_phases_under_torchrun(tmp_path):
    out = tmp_path / "hmn"
    proc = torchrun_train("hmn", out, [*TINY, "device=cpu"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["world_size"] == 2
    assert list(results["methods"]) == ["hmn", "snn", "ewc", "hmn+ewc", "ann-only", "snn-only"]
    for rec in results["methods"].values():
        assert all(0 <= a <= 1 for row in rec["accuracy_matrix"] for a in row if a is not None)
