"""The training runtime shared by the experiments: `hnn-fast train NAME`, or train(NAME) from Python.
See hnn_fast.train.registry for how an experiment plugs in and docs/training.md for usage."""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .config import ConfigError, TrainConfig, apply_overrides, load_config_file, param, save_config
from .loop import TrainResult, train
from .registry import Experiment, StepContext, experiment_names, get_experiment, register

__all__ = [
    "CheckpointError",
    "ConfigError",
    "Experiment",
    "StepContext",
    "TrainConfig",
    "TrainResult",
    "apply_overrides",
    "experiment_names",
    "get_experiment",
    "load_checkpoint",
    "load_config_file",
    "param",
    "register",
    "save_checkpoint",
    "save_config",
    "train",
]
