"""Experiments: what `hnn-fast train NAME` trains. An experiment is one registered object that says
how to build its model and data and how to compute one batch's loss and metrics; the loop in
hnn_fast.train.loop does everything else (seeds, data sharding, optimiser, schedule, autocast, DDP,
logging, checkpoints, resume).

Adding one:

    class Mine(Experiment):
        name = "mine"
        config_class = MineConfig         # a TrainConfig subclass with the experiment's own fields
        quick = {"epochs": 1}             # what --quick overrides: a smoke run in seconds
        def build_model(self, cfg): ...
        def build_datasets(self, cfg): ...           # (train, eval) map-style datasets
        def train_step(self, model, batch, ctx): ... # (loss, {"acc": ...})

and list it in hnn_fast.networks.EXPERIMENTS (a network of this package), or call register(Mine)
(an experiment of your own) so that `hnn-fast train` and train() find it.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from .config import ConfigError, TrainConfig

# Experiments registered at run time (register); the networks' own are listed in
# hnn_fast.networks.EXPERIMENTS and imported on first lookup, so that importing hnn_fast.train stays cheap.
_REGISTRY: dict[str, Experiment] = {}


@dataclass
class StepContext:
    """What a step may use besides the model and batch. Draw every random number (dropout masks
    aside, which use torch's global RNG) from `generator`: the loop checkpoints it, so a resumed run
    draws the same numbers as an uninterrupted one."""

    cfg: TrainConfig
    device: torch.device
    generator: torch.Generator
    training: bool


class Experiment(abc.ABC):
    """One trainable experiment. Batches are what a DataLoader yields from build_datasets' datasets
    (tensors, or tuples/lists/dicts of tensors, batch dimension first); the loop moves them to the
    device. Metrics are means over the batch (floats or 0-dim tensors)."""

    name: ClassVar[str]
    config_class: ClassVar[type[TrainConfig]] = TrainConfig
    description: ClassVar[str] = ""
    quick: ClassVar[Mapping[str, Any]] = {}
    # True for an experiment that is a sequence of training runs (pre-training, then tasks learned one
    # after another, ...): train() then hands everything to its run_phases instead of the single loop.
    phased: ClassVar[bool] = False

    @abc.abstractmethod
    def build_model(self, cfg: TrainConfig) -> nn.Module:
        """The model, on the CPU; the loop seeds torch before calling this and moves the result."""

    @abc.abstractmethod
    def build_datasets(self, cfg: TrainConfig) -> tuple[Dataset, Dataset]:
        """(train, eval) map-style datasets, identical on every process; the loop shards them."""

    @abc.abstractmethod
    def train_step(self, model: nn.Module, batch: Any, ctx: StepContext) -> tuple[Tensor, Mapping[str, Any]]:
        """(loss to minimise, metrics) for one batch; the loop runs it under autocast when asked."""

    def eval_step(self, model: nn.Module, batch: Any, ctx: StepContext) -> Mapping[str, Any]:
        """Metrics of one evaluation batch (run under torch.no_grad, the model in eval mode)."""
        loss, metrics = self.train_step(model, batch, ctx)
        return {"loss": loss, **metrics}

    def run_phases(
        self,
        config: TrainConfig | None,
        *,
        overrides: Sequence[str],
        out_dir: Path | None,
        resume: Path | None,
        stop_at_step: int | None,
        progress: bool,
        config_format: str,
    ) -> Any:
        """A phased experiment's whole run, with train()'s arguments (stop_at_step and config_format
        already checked); returns a hnn_fast.train.TrainResult. Each phase is meant to be one call of
        train() on an unregistered Experiment in a subdirectory of out_dir, so that each has the loop's
        checkpoints, resume, progress and DDP; the run directory itself follows the loop's rules
        (hnn_fast.train.loop: default_run_dir, resolve_resume, check_fresh_run_dir, run_config,
        processes)."""
        raise NotImplementedError(f"experiment {self.name!r} sets phased but does not define run_phases")

    def after_training(self, model: nn.Module, cfg: TrainConfig, out_dir: Path) -> None:
        """Runs on the main process once a run has completed and written its results.json: the place
        for what the loop does not measure (an evaluation of its own, cost, plots) to join the run."""
        return None

    def find_unused_parameters(self, cfg: TrainConfig) -> bool:
        """True when a step may leave some parameters without a gradient (a schedule that trains one
        part of the model at a time); DistributedDataParallel then has to look for them each step."""
        return False

    def build_optimizer(self, model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
        params = [p for p in model.parameters() if p.requires_grad]
        if cfg.optimizer == "sgd":
            return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        opt = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
        return opt(params, lr=cfg.lr, weight_decay=cfg.weight_decay)

    def build_scheduler(
        self, optimizer: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int
    ) -> torch.optim.lr_scheduler.LRScheduler:
        """Stepped once per optimiser step."""
        if cfg.scheduler == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total_steps, 1))
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)


def register(experiment: type[Experiment] | Experiment) -> type[Experiment] | Experiment:
    """Registers an Experiment subclass (usable as a class decorator) or instance under its name."""
    instance = experiment() if isinstance(experiment, type) else experiment
    name = getattr(instance, "name", None)
    if not isinstance(name, str) or not name:
        raise ValueError(f"experiment {instance!r} has no name")
    if not (isinstance(instance.config_class, type) and issubclass(instance.config_class, TrainConfig)):
        raise TypeError(f"experiment {name!r}: config_class must subclass TrainConfig")
    if name in _REGISTRY and type(_REGISTRY[name]) is not type(instance):
        raise ValueError(f"experiment {name!r} is already registered by {type(_REGISTRY[name]).__name__}")
    _REGISTRY[name] = instance
    return experiment


def experiment_names() -> list[str]:
    from .. import networks

    return sorted({*networks.EXPERIMENTS, *_REGISTRY})


def get_experiment(name: str) -> Experiment:
    from .. import networks

    if name not in _REGISTRY and name in networks.EXPERIMENTS:
        register(networks.load(networks.EXPERIMENTS[name]))
    if name not in _REGISTRY:
        raise ConfigError(
            f"unknown experiment {name!r}; registered: {', '.join(experiment_names()) or 'none'}"
        )
    return _REGISTRY[name]
