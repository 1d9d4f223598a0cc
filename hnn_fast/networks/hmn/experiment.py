"""hmn: meta-continual learning of permuted event-digits with the hybrid modulation network (HNN paper,
Fig. 3 and Methods Eq. 14-19), against the plain spiking branch, the branch with EWC, HMN with EWC and
the paper's Fig. 3g ablations (ANN-only, SNN-only).

Phases, each one run of the training loop (its own directory, checkpoints, resume, DDP):

1. `stage1/`: the ANN backbone and modulation HUs learn the task-similarity objective (Eq. 14) on
   the stage-1 tasks: every task of the first `groups - test_groups` groups and the first half of
   each test group's tasks. The other half of each test group is never seen by the backbone.
   `stage1-snn/` does the same for the spiking backbone of the SNN-only ablation.
2. `<method>/task_NN/`: for each method, the branch learns the test tasks one after another,
   starting from the weights the previous task left. The modulated methods feed each task's binary
   modulation vector (Eq. 17, computed from that task's training samples) to the branch's
   thresholds (Eq. 19). After each task, every task learned so far is tested (with its own
   modulation vector).

The run directory gets results.json (accuracy matrices, mean-accuracy curves, modulation-vector
similarity within and across groups) and hmn.png (mean accuracy on learned tasks against the number
learned, as the paper's Fig. 3i, and the similarity of the modulation vectors). `--resume` (the run
directory, or the checkpoint file of any of its phases) skips finished phases (recomputing their
evaluation from their checkpoints) and continues the interrupted one; `--stop-at` counts steps over
all phases.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset, Subset

from ...options import SURROGATE_ALPHA
from ...train.checkpoint import load_checkpoint, save_checkpoint
from ...train.config import ConfigError, TrainConfig, param, save_config
from ...train.distributed import Distributed, unwrap
from ...train.loop import (
    TrainResult,
    check_fresh_run_dir,
    checkpoint_file,
    default_run_dir,
    load_run_config,
    processes,
    resolve_resume,
    resume_command,
    run_config,
    saved_config,
    train,
)
from ...train.registry import Experiment, StepContext
from .. import _figures
from .model import (
    MODULATIONS,
    N_INPUTS,
    ANNBranch,
    HMNModulator,
    SpikingBranch,
    similarity_loss,
    task_modulation,
)

METHODS = ("hmn", "snn", "ewc", "hmn+ewc", "ann-only", "snn-only")
WITH_EWC = ("ewc", "hmn+ewc")
# Which stage-1 backbone modulates a method's branch: "ann" or "spiking".
BACKBONE = {"hmn": "ann", "hmn+ewc": "ann", "ann-only": "ann", "snn-only": "spiking"}
# The phase directories of a run: stage 1 of each backbone, then <method>/task_NN.
STAGE1_DIRS = {"ann": "stage1", "spiking": "stage1-snn"}
DATASETS = ("event-digits", "nmnist")
# N-MNIST binned into as many event bins as event-digits has, so that time_bins means the same for both.
NMNIST_BINS = 10


def _task_dir(method: str, k: int) -> str:
    return f"{method}/task_{k:02d}"


def _run_root(path: Path) -> Path:
    """The run directory that path, the run directory itself or one of its phase directories, is of."""
    if path.name in STAGE1_DIRS.values():
        return path.parent
    if path.parent.name in METHODS and re.fullmatch(r"task_\d+", path.name):
        return path.parent.parent
    return path


@dataclass
class HMNConfig(TrainConfig):
    epochs: int = param(10, "stage 2: passes over each task's training set", min=1)
    lr: float = param(1e-3, "stage 2: learning rate of the branch", gt=0)
    methods: str = param(
        "hmn,snn,ewc,hmn+ewc,ann-only,snn-only",
        "comma-separated methods to run: hmn "
        "(modulated branch), snn (plain branch), ewc (plain branch + EWC), hmn+ewc (modulated "
        "branch + EWC), ann-only (ANN backbone modulating an ANN branch), snn-only (spiking "
        "backbone modulating the spiking branch); the last two are the paper's Fig. 3g ablations",
    )
    groups: int = param(175, "groups of similar permuted tasks in all", min=2)
    test_groups: int = param(10, "last groups whose tasks stage 2 learns in sequence", min=1)
    tasks_per_group: int = param(
        4, "tasks per group; stage 1 sees the first half of each test group's", min=2
    )
    task_seed: int = param(0, "seed of the task permutations", min=0)
    time_bins: int = param(10, "time steps: the 10 event bins summed in groups (must divide 10)", min=1)
    train_per_task: int = param(
        0, "training samples per task (the same digits under each permutation); 0: all", min=0
    )
    test_per_task: int = param(0, "test samples per task; 0: all", min=0)
    data_limit: int = param(
        0,
        "build event-digits from only the first N of the 1,797 digits (nmnist: N recordings of each "
        "split); 0: all",
        min=0,
    )
    dataset: str = param(
        "event-digits",
        "event-digits (generated here) or nmnist (tonic.datasets.NMNIST read from nmnist_root, binned by "
        "hnn_fast.data.TonicFrames)",
        choices=DATASETS,
    )
    nmnist_root: str = param("", "dataset=nmnist: the directory tonic.datasets.NMNIST reads (its save_to)")
    hidden: int = param(152, "neurons per hidden layer of the spiking branch (2312-H-H-10)", min=1)
    backbone_hidden: int = param(512, "width of the two ANN backbone layers (2312-W-W)", min=1)
    decay: float = param(0.8, "membrane decay of the branch's LIF neurons", min=0, max=1)
    threshold: float = param(0.5, "firing threshold of the branch's LIF neurons", gt=0)
    surrogate: str = param(
        "rectangle", "surrogate gradient of the branch's spikes", choices=tuple(SURROGATE_ALPHA)
    )
    modulation: str = param(
        "threshold",
        "threshold: a gated-off neuron's threshold rises by v_T (Eq. 19); gate: "
        "its spikes are multiplied by 0 (the authors' code)",
        choices=MODULATIONS,
    )
    v_T: float = param(1e4, "threshold rise of a gated-off neuron (Eq. 19)", gt=0)
    rescale: bool = param(
        True, "scale a modulated layer's spikes by H / (neurons on), as inverted dropout (not in the paper)"
    )
    gate_k: float = param(1.0, "sharpness k of the modulation HUs' sigmoid(k x)", gt=0)
    gate_binarize: bool = param(
        True,
        "stage 1 trains 0/1 gates (Q at 1/2, straight-through gradient) instead of "
        "soft sigmoid gates, which saturate and leave neurons unused",
    )
    sim_lambda: float = param(1.0, "lambda of Eq. 14 (reward for similar modulation of similar tasks)", min=0)
    sim_mu: float = param(10.0, "mu of Eq. 14 (weight of the minimum-density term)", min=0)
    sim_rho: float = param(
        0.1, "rho of Eq. 14 (minimum mean gate of a sample; the authors' code uses 0.1)", min=0, max=1
    )
    stage1_epochs: int = param(5, "stage 1: passes over the stage-1 samples", min=1)
    stage1_lr: float = param(1e-3, "stage 1: learning rate of backbone and HUs", gt=0)
    stage1_batch_size: int = param(128, "stage 1: batch size (its pairs of samples form the loss)", min=2)
    stage1_per_task: int = param(
        200,
        "stage 1: training samples per stage-1 task (per task of a group whose tasks stage 1 all sees)",
        min=1,
    )
    stage1_balance: bool = param(
        True,
        "stage 1: every group gets the same number of samples (a test group's seen "
        "tasks get more each); off: every task the same",
    )
    ewc_lambda: float = param(1e3, "ewc: weight of the quadratic penalty", min=0)
    fisher_samples: int = param(
        200, "ewc: training samples of a task whose squared gradients estimate its Fisher information", min=1
    )


def _methods(cfg: HMNConfig) -> list[str]:
    names = [m.strip() for m in cfg.methods.split(",") if m.strip()]
    unknown = [m for m in names if m not in METHODS]
    if not names or unknown or len(set(names)) != len(names):
        raise ConfigError(f"config methods={cfg.methods!r}: must be distinct names from {', '.join(METHODS)}")
    return names


class _Data:
    """Event-digits binned to `time_bins`, and the permuted tasks; permutation happens per item."""

    def __init__(self, cfg: HMNConfig):
        from .data import PermutedTaskGroups

        if cfg.test_groups >= cfg.groups:
            raise ConfigError(
                f"config test_groups={cfg.test_groups}: must be < groups ({cfg.groups}), so that "
                f"stage 1 has groups of its own"
            )
        train, test = _event_sets(cfg, cfg.data_limit or None)
        self.x_train, self.y_train = self._bin(train.data, cfg, cfg.train_per_task), train.targets
        self.x_test, self.y_test = self._bin(test.data, cfg, cfg.test_per_task), test.targets
        self.y_train, self.y_test = self.y_train[: len(self.x_train)], self.y_test[: len(self.x_test)]
        self.avg_train = self.x_train.mean(1)
        self.avg_test = self.x_test.mean(1)
        tasks = PermutedTaskGroups(cfg.groups, seed=cfg.task_seed, tasks_per_group=cfg.tasks_per_group)
        self.perms = torch.from_numpy(tasks.permutations)
        self.groups = torch.from_numpy(tasks.groups)
        self.similarity = torch.from_numpy(tasks.similarity()).float()
        first_test = (cfg.groups - cfg.test_groups) * cfg.tasks_per_group
        self.test_tasks = list(range(first_test, len(tasks)))
        half = cfg.tasks_per_group // 2
        self.stage1_tasks = [
            t for t in range(len(tasks)) if t < first_test or (t - first_test) % cfg.tasks_per_group < half
        ]

    @staticmethod
    def _bin(data: Tensor, cfg: HMNConfig, per_task: int) -> Tensor:
        _n, bins = data.shape[:2]
        if bins % cfg.time_bins:
            raise ConfigError(f"config time_bins={cfg.time_bins}: must divide the {bins} event bins")
        if per_task:
            data = data[:per_task]
        return data.reshape(len(data), cfg.time_bins, bins // cfg.time_bins, N_INPUTS).sum(2)


def _event_sets(cfg: HMNConfig, limit: int | None) -> tuple[Dataset, Dataset]:
    """The training and test sets: `data` [N, 10, 2, 34, 34] event bins, `targets` [N] labels."""
    from ...data import EventDigits, TonicFrames

    if cfg.dataset == "event-digits":
        return EventDigits(True, limit=limit), EventDigits(False, limit=limit)
    if not cfg.nmnist_root:
        raise ConfigError("config dataset=nmnist: set nmnist_root to the directory of tonic's NMNIST files")
    try:
        import tonic
    except ImportError as e:
        raise ConfigError("config dataset=nmnist needs tonic (the interop extra)") from e
    sets = []
    for is_train in (True, False):
        events = tonic.datasets.NMNIST(cfg.nmnist_root, train=is_train)
        if tuple(events.sensor_size) != (34, 34, 2):
            raise ConfigError(f"dataset=nmnist: sensor_size must be (34, 34, 2), got {events.sensor_size}")
        # tonic lists the recordings class by class: in a fixed shuffled order every prefix (data_limit,
        # train_per_task) holds every class.
        order = np.random.default_rng(0).permutation(len(events))[:limit]
        subset = Subset(events, order.tolist())
        sets.append(TonicFrames(subset, NMNIST_BINS, sensor_size=events.sensor_size))
    return sets[0], sets[1]


class _Stage1Set(Dataset):
    """(permuted sample, task, group) for every stage-1 task; samples are time-averaged [N, n_inputs]
    or spike inputs [N, T, n_inputs].

    Each task gets per_task samples, or with balance per_task * tasks_per_group / (its group's tasks in
    stage 1), so that a test group, of which stage 1 sees half the tasks, weighs as much in Eq. 14 as
    any other group. Unbalanced, the test groups carry half the weight and the loss lets them share
    neurons with each other: cross-group cosine of the test tasks' vectors 0.09-0.21 against 0.06 over
    all groups (three task seeds; balanced: 0.057-0.067)."""

    def __init__(self, samples: Tensor, data: _Data, per_task: int, tasks_per_group: int, balance: bool):
        self.inputs, self.data = samples, data
        stage1 = torch.tensor(data.stage1_tasks)
        seen = torch.bincount(data.groups[stage1])[data.groups[stage1]]
        counts = per_task * tasks_per_group // seen if balance else torch.full_like(seen, per_task)
        # Sample j of a task is inputs[j], cycling when a task gets more samples than there are.
        self.tasks = stage1.repeat_interleave(counts)
        self.samples = torch.cat([torch.arange(int(c)) % len(samples) for c in counts])

    def __len__(self) -> int:
        return len(self.tasks)

    def __getitem__(self, i: int):
        task = int(self.tasks[i])
        return self.inputs[self.samples[i]][..., self.data.perms[task]], task, self.data.groups[task]


class _TaskSet(Dataset):
    """One task: (permuted sample [T, n_inputs], label)."""

    def __init__(self, x: Tensor, y: Tensor, perm: Tensor):
        self.x, self.y, self.perm = x, y, perm

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return self.x[i][:, self.perm], self.y[i]


class _Stage1(Experiment):
    """Stage 1 for the ANN backbone (time-averaged inputs) or, spiking=True, the spiking backbone of the
    SNN-only ablation (spike inputs)."""

    name = "hmn-stage1"
    config_class = HMNConfig

    def __init__(self, data: _Data, spiking: bool = False):
        self.data, self.spiking = data, spiking
        if spiking:
            self.name = "hmn-stage1-snn"

    def build_model(self, cfg: HMNConfig) -> nn.Module:
        return _modulator(cfg, self.spiking)

    def build_datasets(self, cfg: HMNConfig):
        train, test = (
            (self.data.x_train, self.data.x_test)
            if self.spiking
            else (self.data.avg_train, self.data.avg_test)
        )
        per_test = min(len(test), max(1, cfg.stage1_per_task // 4))
        return (
            _Stage1Set(train, self.data, cfg.stage1_per_task, cfg.tasks_per_group, cfg.stage1_balance),
            _Stage1Set(test, self.data, per_test, cfg.tasks_per_group, cfg.stage1_balance),
        )

    def train_step(self, model: nn.Module, batch: Any, ctx: StepContext):
        x, tasks, groups = batch
        gates = model(x.transpose(0, 1) if self.spiking else x)
        cfg = ctx.cfg
        loss = similarity_loss(
            [g.float() for g in gates],
            tasks,
            groups,
            self.data.similarity.to(x.device),
            lam=cfg.sim_lambda,
            mu=cfg.sim_mu,
            rho=cfg.sim_rho,
        )
        return loss, {"gate_mean": torch.stack([g.detach().float().mean() for g in gates]).mean()}


class _EWC:
    """Online EWC: the Fisher information of every learned task summed, anchored at the weights after
    the last task, penalty ewc_lambda / 2 * sum F (w - w*)^2. One anchor instead of one per task keeps
    the cost constant in the number of tasks."""

    def __init__(self, strength: float):
        self.strength = strength
        self.fisher: dict[str, Tensor] = {}
        self.anchor: dict[str, Tensor] = {}

    def penalty(self, model: nn.Module) -> Tensor:
        params = dict(unwrap(model).named_parameters())
        terms = [(self.fisher[k] * (params[k] - self.anchor[k]) ** 2).sum() for k in self.fisher]
        return 0.5 * self.strength * torch.stack(terms).sum()

    def consolidate(
        self,
        model: nn.Module,
        dataset: Dataset,
        n: int,
        device: torch.device,
        modulation: list[Tensor] | None = None,
    ) -> None:
        """Adds the task's empirical Fisher (squared per-sample gradients of the log-likelihood of the
        first n samples under the task's modulation, deterministic so that a resumed run recomputes
        the same) and re-anchors."""
        mod = None if modulation is None else [m.to(device) for m in modulation]
        params = dict(model.named_parameters())
        fisher = {k: torch.zeros_like(p) for k, p in params.items()}
        n = min(n, len(dataset))
        model.eval()
        for i in range(n):
            x, y = dataset[i]
            model.zero_grad(set_to_none=True)
            logits = model(x.unsqueeze(1).to(device), mod)
            F.cross_entropy(logits.float(), torch.as_tensor([int(y)], device=device)).backward()
            for k, p in params.items():
                if p.grad is not None:
                    fisher[k] += p.grad.detach() ** 2 / n
        model.zero_grad(set_to_none=True)
        for k, f in fisher.items():
            self.fisher[k] = self.fisher[k] + f if k in self.fisher else f
        self.anchor = {k: p.detach().clone() for k, p in params.items()}


class _BranchTask(Experiment):
    """One task of stage 2 for one method: the branch starts from `init` (the previous task's weights)."""

    config_class = HMNConfig

    def __init__(
        self,
        name: str,
        data: _Data,
        task: int,
        modulation: list[Tensor] | None,
        init: dict[str, Tensor] | None,
        ewc: _EWC | None,
        ann: bool = False,
    ):
        self.name, self.data, self.task = name, data, task
        self.modulation, self.init, self.ewc, self.ann = modulation, init, ewc, ann

    def build_model(self, cfg: HMNConfig) -> nn.Module:
        model = _branch(cfg, self.ann)
        if self.init is not None:
            model.load_state_dict(self.init)
        return model

    def build_datasets(self, cfg: HMNConfig):
        perm = self.data.perms[self.task]
        return (
            _TaskSet(self.data.x_train, self.data.y_train, perm),
            _TaskSet(self.data.x_test, self.data.y_test, perm),
        )

    def train_step(self, model: nn.Module, batch: Any, ctx: StepContext):
        x, y = batch
        modulation = None if self.modulation is None else [m.to(x.device) for m in self.modulation]
        logits = model(x.transpose(0, 1), modulation).float()
        loss = F.cross_entropy(logits, y)
        metrics = {"acc": (logits.argmax(1) == y).float().mean()}
        if self.ewc is not None and self.ewc.fisher and ctx.training:
            penalty = self.ewc.penalty(model)
            metrics["ewc_penalty"] = penalty.detach()
            loss = loss + penalty
        return loss, metrics


def _modulator(cfg: HMNConfig, spiking: bool = False) -> HMNModulator:
    return HMNModulator(
        N_INPUTS,
        (cfg.backbone_hidden,) * 2,
        (cfg.hidden,) * 2,
        k=cfg.gate_k,
        binarize=cfg.gate_binarize,
        spiking=spiking,
    )


def _branch(cfg: HMNConfig, ann: bool = False) -> SpikingBranch | ANNBranch:
    if ann:
        return ANNBranch(N_INPUTS, (cfg.hidden,) * 2, 10, rescale=cfg.rescale)
    return SpikingBranch(
        N_INPUTS,
        (cfg.hidden,) * 2,
        10,
        decay=cfg.decay,
        threshold=cfg.threshold,
        surrogate=cfg.surrogate,
        modulation=cfg.modulation,
        v_T=cfg.v_T,
        rescale=cfg.rescale,
    )


@torch.no_grad()
def _accuracy(
    model: SpikingBranch | ANNBranch,
    dataset: _TaskSet,
    modulation: list[Tensor] | None,
    batch_size: int,
    device: torch.device,
) -> float:
    model.eval()
    correct = 0
    mod = None if modulation is None else [m.to(device) for m in modulation]
    for start in range(0, len(dataset), batch_size):
        idx = range(start, min(start + batch_size, len(dataset)))
        x = torch.stack([dataset[i][0] for i in idx]).to(device).transpose(0, 1)
        y = torch.stack([torch.as_tensor(dataset[i][1]) for i in idx]).to(device)
        correct += int((model(x, mod).argmax(1) == y).sum())
    return correct / len(dataset)


def _similarity_stats(vectors: Tensor, groups: Tensor, seen: Tensor) -> dict[str, float]:
    """Mean cosine similarity of task modulation vectors [K, D] over pairs of distinct tasks of one
    group and of different groups, also restricted to pairs with a task stage 1 never saw."""
    unit = F.normalize(vectors.float(), dim=1, eps=1e-8)
    cos = unit @ unit.T
    distinct = ~torch.eye(len(vectors), dtype=torch.bool)
    same = groups[:, None] == groups[None, :]
    unseen = ~seen[:, None] | ~seen[None, :]

    def mean(mask: Tensor) -> float | None:
        return float(cos[mask].mean()) if mask.any() else None

    return {
        "within_group": mean(same & distinct),
        "across_group": mean(~same),
        "within_group_unseen": mean(same & distinct & unseen),
        "across_group_unseen": mean(~same & unseen),
    }


class HMN(Experiment):
    name = "hmn"
    description = "hybrid modulation network: continual learning of permuted event-digits vs SNN and EWC"
    config_class = HMNConfig
    phased = True
    # 5 test groups of 4 tasks, all 1,437 training digits per task (fewer make the plain branch forget
    # too little to tell the methods apart), 5 time steps.
    quick = {
        "groups": 15,
        "test_groups": 5,
        "test_per_task": 0,
        "time_bins": 5,
        "epochs": 10,
        "stage1_epochs": 5,
        "stage1_per_task": 300,
        "fisher_samples": 100,
    }

    # The loop never calls these for a phased experiment; its phases are _Stage1 and _BranchTask.
    def build_model(self, cfg: TrainConfig) -> nn.Module:
        raise NotImplementedError("hmn runs in phases (run_phases)")

    def build_datasets(self, cfg: TrainConfig):
        raise NotImplementedError("hmn runs in phases (run_phases)")

    def train_step(self, model: nn.Module, batch: Any, ctx: StepContext):
        raise NotImplementedError("hmn runs in phases (run_phases)")

    def run_phases(self, config, *, overrides, out_dir, resume, stop_at_step, progress, config_format):
        """The loop's run-directory rules, with one difference: a phased run has no checkpoint of its
        own, so it resumes from the config it saved, and that file is what marks a directory as
        holding a run."""
        if resume is not None:
            if out_dir is None:
                out_dir = _run_root(resolve_resume(resume)[1])
            config = load_run_config(HMNConfig, out_dir)
        cfg = run_config(self, config, overrides)
        methods = _methods(cfg)
        if out_dir is None:
            out_dir = default_run_dir(self.name)
        if resume is None:
            check_fresh_run_dir(out_dir, saved_config(out_dir))
        # Held across phases, so that the process group outlives each phase's loop.
        with processes(cfg.device) as (dist, device):
            if dist.is_main:
                out_dir.mkdir(parents=True, exist_ok=True)
                save_config(cfg, out_dir / f"config.{config_format}")
            runner = _PhaseRunner(cfg, out_dir, stop_at_step, progress, config_format, dist, device)
            return runner.run(methods)


def _drop_optimizer_moments(path: Path) -> None:
    """A finished phase is never trained further (each task starts a fresh Adam), so its checkpoint
    keeps the weights and drops the optimiser's moment buffers, two thirds of its size."""
    state = load_checkpoint(path)
    state["optimizer"] = {**state["optimizer"], "state": {}}
    save_checkpoint({k: v for k, v in state.items() if k not in ("format", "version")}, path)


class _PhaseRunner:
    def __init__(
        self,
        cfg: HMNConfig,
        out_dir: Path,
        stop_at_step: int | None,
        progress: bool,
        config_format: str,
        dist: Distributed,
        device: torch.device,
    ):
        self.cfg, self.out_dir, self.stop_at_step, self.device = cfg, out_dir, stop_at_step, device
        self.progress, self.config_format, self.dist = progress, config_format, dist
        self.steps = 0
        self.started = time.perf_counter()

    def phase(self, exp: Experiment, cfg: HMNConfig, directory: Path) -> tuple[str, nn.Module]:
        """Runs (or, when finished before, reloads) one phase: (status, trained model)."""
        checkpoint = checkpoint_file(directory)
        done = directory / "results.json"
        if done.exists() and checkpoint.exists():
            state = load_checkpoint(checkpoint)
            model = exp.build_model(cfg)
            model.load_state_dict(state["model"])
            self.steps += int(state["step"])
            return "completed", model
        stop = None if self.stop_at_step is None else self.stop_at_step - self.steps
        if stop is not None and stop < 1:
            return "stopped", None
        result = train(
            exp,
            cfg,
            out_dir=directory,
            resume=directory if checkpoint.exists() else None,
            stop_at_step=stop,
            progress=self.progress,
            config_format=self.config_format,
        )
        self.steps += result.step
        if result.status == "completed" and self.dist.is_main:
            _drop_optimizer_moments(checkpoint)
        return result.status, result.model

    def run(self, methods: list[str]) -> TrainResult:
        cfg, out = self.cfg, self.out_dir
        data = _Data(cfg)
        device = self.device
        modulations: dict[str, dict[int, list[Tensor]]] = {}
        modulators: dict[str, nn.Module] = {}
        stage1_cfg = replace(
            cfg, epochs=cfg.stage1_epochs, lr=cfg.stage1_lr, batch_size=cfg.stage1_batch_size, eval_every=0
        )
        for backbone, directory in STAGE1_DIRS.items():
            if not any(BACKBONE.get(m) == backbone for m in methods):
                continue
            spiking = backbone == "spiking"
            status, modulator = self.phase(_Stage1(data, spiking), stage1_cfg, out / directory)
            if status != "completed":
                return self._stopped(status)
            modulators[backbone] = modulator = modulator.to(device).eval()
            inputs = data.x_train if spiking else data.avg_train
            modulations[backbone] = {}
            for task in data.test_tasks:
                perm = data.perms[task]
                batches = (
                    inputs[i : i + cfg.batch_size][..., perm].to(device)
                    for i in range(0, len(inputs), cfg.batch_size)
                )
                if spiking:
                    batches = (x.transpose(0, 1) for x in batches)
                modulations[backbone][task] = [
                    self._same_on_all_ranks(m).cpu() for m in task_modulation(modulator, batches)
                ]

        branch_cfg = replace(cfg, eval_every=0)
        n = len(data.test_tasks)
        record: dict[str, Any] = {}
        finals: dict[str, nn.Module] = {}
        for method in methods:
            matrix = [[None] * n for _ in range(n)]
            ewc = _EWC(cfg.ewc_lambda) if method in WITH_EWC else None
            state = None
            vectors = modulations[BACKBONE[method]] if method in BACKBONE else {}
            for k, task in enumerate(data.test_tasks):
                mod = vectors.get(task)
                exp = _BranchTask(
                    f"hmn-{method}-task{k:02d}", data, task, mod, state, ewc, ann=method == "ann-only"
                )
                status, model = self.phase(exp, branch_cfg, out / _task_dir(method, k))
                if status != "completed":
                    return self._stopped(status)
                model = model.to(device)
                state = {key: v.detach().cpu().clone() for key, v in model.state_dict().items()}
                if ewc is not None:
                    ewc.consolidate(model, exp.build_datasets(cfg)[0], cfg.fisher_samples, device, mod)
                for j in range(k + 1):
                    t = data.test_tasks[j]
                    testset = _TaskSet(data.x_test, data.y_test, data.perms[t])
                    matrix[k][j] = _accuracy(model, testset, vectors.get(t), cfg.batch_size, device)
            finals[method] = model
            curve = [float(np.mean(row[: k + 1])) for k, row in enumerate(matrix)]
            record[method] = {
                "accuracy_matrix": matrix,
                "mean_accuracy": curve,
                "final_mean_accuracy": curve[-1],
                "first_task_final_accuracy": matrix[-1][0],
                "just_learned_accuracy": float(np.mean([matrix[k][k] for k in range(n)])),
            }

        results = self._results(data, methods, record, modulations)
        if self.dist.is_main:
            (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
            _plot(results, out / "hmn.png")
            line = ", ".join(f"{m} {record[m]['final_mean_accuracy']:.3f}" for m in methods)
            print(f"hmn: mean accuracy on the {n} learned tasks after the last: {line} -> {out}")
        models = nn.ModuleDict(finals)
        for backbone, modulator in modulators.items():
            models["modulator" if backbone == "ann" else "modulator_spiking"] = modulator
        metrics = {f"{m}_final_mean_accuracy": record[m]["final_mean_accuracy"] for m in methods}
        return TrainResult(
            "completed",
            self.steps,
            0,
            {"train": {}, "eval": metrics},
            out if self.dist.is_main else None,
            models,
        )

    def _same_on_all_ranks(self, t: Tensor) -> Tensor:
        # A gate within rounding of 1/2 could binarise differently on two GPUs; rank 0's vector wins.
        if self.dist.enabled:
            torch.distributed.broadcast(t, src=0)
        return t

    def _stopped(self, status: str) -> TrainResult:
        if self.dist.is_main:
            print(
                f"hmn: {status} at step {self.steps} (all phases); continue with "
                f"`{resume_command('hmn', self.out_dir)}`"
            )
        return TrainResult(status, self.steps, 0, {}, self.out_dir if self.dist.is_main else None, None)

    def _results(
        self,
        data: _Data,
        methods: list[str],
        record: dict[str, Any],
        modulations: dict[str, dict[int, list[Tensor]]],
    ) -> dict[str, Any]:
        cfg = self.cfg
        tasks = data.test_tasks
        seen = torch.tensor([t in set(data.stage1_tasks) for t in tasks])
        groups = data.groups[tasks]
        sim_ta = data.similarity[tasks][:, tasks]
        distinct = ~torch.eye(len(tasks), dtype=torch.bool)
        same = groups[:, None] == groups[None, :]
        results: dict[str, Any] = {
            "experiment": "hmn",
            "status": "completed",
            "steps": self.steps,
            "world_size": self.dist.world_size,
            "elapsed_s": round(time.perf_counter() - self.started, 1),
            "config": {**vars(cfg)},
            "test_tasks": tasks,
            "test_task_groups": groups.tolist(),
            "seen_in_stage1": seen.tolist(),
            "task_similarity": {
                "within_group": float(sim_ta[same & distinct].mean()),
                "across_group": float(sim_ta[~same].mean()),
            },
            "methods": record,
        }
        for backbone, by_task in modulations.items():
            vectors = torch.stack([torch.cat(by_task[t]) for t in tasks])
            results["modulation" if backbone == "ann" else "modulation_spiking_backbone"] = {
                "similarity": _similarity_stats(vectors, groups, seen),
                "density": float(vectors.mean()),
                "similarity_matrix": (
                    F.normalize(vectors, dim=1, eps=1e-8) @ F.normalize(vectors, dim=1, eps=1e-8).T
                ).tolist(),
            }
        return results


def _plot(results: dict[str, Any], path: Path) -> None:
    plt = _figures.pyplot()
    from matplotlib.ticker import MaxNLocator

    modulation = results.get("modulation", results.get("modulation_spiking_backbone"))
    has_matrix = modulation is not None
    fig, axes = plt.subplots(1, 2 if has_matrix else 1, figsize=(11 if has_matrix else 6, 4.2), squeeze=False)
    ax = axes[0, 0]
    labels = {
        "hmn": "HMN",
        "snn": "SNN",
        "ewc": "SNN + EWC",
        "hmn+ewc": "HMN + EWC",
        "ann-only": "ANN-only",
        "snn-only": "SNN-only",
    }
    for method, rec in results["methods"].items():
        curve = rec["mean_accuracy"]
        ax.plot(range(1, len(curve) + 1), curve, marker="o", ms=3, label=labels.get(method, method))
    ax.set_xlabel("number of learned tasks")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("mean accuracy on learned tasks")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Continual learning of permuted event-digits")
    if has_matrix:
        ax = axes[0, 1]
        image = ax.imshow(np.array(modulation["similarity_matrix"]), vmin=0, vmax=1, cmap="viridis")
        ax.set_title("cosine similarity of task modulation vectors")
        ax.set_xlabel("test task (groups of consecutive tasks)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        fig.colorbar(image, ax=ax, fraction=0.046)
    _figures.save(fig, path)
