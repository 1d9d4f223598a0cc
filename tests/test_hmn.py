"""HMN: the task-similarity loss (Eq. 14-16), task modulation vectors (Eq. 17), threshold modulation
(Eq. 19) and a tiny end-to-end run of both stages through `hnn-fast train hmn`."""

import json

import pytest
import torch

from hnn_fast.models.hmn import HMNModulator, SpikingBranch, similarity_loss, task_modulation
from hnn_fast.train import ConfigError, train


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
    from hnn_fast.train.experiments.hmn import HMNConfig, _branch

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


TINY = ["groups=3", "test_groups=1", "tasks_per_group=2", "data_limit=120", "hidden=12", "backbone_hidden=24",
        "epochs=2", "stage1_epochs=2", "stage1_per_task=32", "stage1_batch_size=32", "batch_size=16",
        "fisher_samples=4", "time_bins=2", "methods=hmn,snn,ewc"]


def test_tiny_end_to_end_and_resume(tmp_path):
    full = train("hmn", overrides=TINY, out_dir=tmp_path / "full", progress=False)
    assert full.status == "completed"
    results = json.loads((tmp_path / "full" / "results.json").read_text())
    assert (tmp_path / "full" / "hmn.png").stat().st_size > 0
    assert results["test_tasks"] == [4, 5] and results["seen_in_stage1"] == [True, False]
    for method in ("hmn", "snn", "ewc"):
        rec = results["methods"][method]
        matrix = rec["accuracy_matrix"]
        assert matrix[0][1] is None and all(0 <= a <= 1 for a in (matrix[0][0], matrix[1][0], matrix[1][1]))
        assert rec["mean_accuracy"] == pytest.approx([matrix[0][0], (matrix[1][0] + matrix[1][1]) / 2])
    sim = results["modulation"]["similarity"]
    assert -1e-6 <= sim["within_group"] <= 1 + 1e-6 and sim["across_group"] is None  # one test group
    assert 0 < results["modulation"]["density"] <= 1
    assert (tmp_path / "full" / "stage1" / "checkpoints" / "last.pt").exists()
    assert (tmp_path / "full" / "ewc" / "task_01" / "results.json").exists()

    # stopped inside stage 2 and resumed: the same accuracies as the run that never stopped
    stopped = train("hmn", overrides=TINY, out_dir=tmp_path / "cut", progress=False,
                    stop_at_step=full.step - 3)
    assert stopped.status == "stopped" and stopped.step == full.step - 3
    resumed = train("hmn", resume=tmp_path / "cut", progress=False)
    assert resumed.status == "completed" and resumed.step == full.step
    again = json.loads((tmp_path / "cut" / "results.json").read_text())
    assert again["methods"] == results["methods"]
    assert again["modulation"]["similarity_matrix"] == results["modulation"]["similarity_matrix"]

    with pytest.raises(ConfigError, match="already holds a run"):
        train("hmn", overrides=TINY, out_dir=tmp_path / "full", progress=False)
    with pytest.raises(ConfigError, match="methods"):
        train("hmn", overrides=[*TINY, "methods=hmn,foo"], out_dir=tmp_path / "bad", progress=False)
    with pytest.raises(ConfigError, match="time_bins"):
        train("hmn", overrides=[*TINY, "time_bins=3"], out_dir=tmp_path / "bad2", progress=False)
