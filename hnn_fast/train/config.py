"""Experiment configs: one dataclass per experiment, built from its defaults, an optional JSON or YAML
file and `key=value` overrides. Every value is checked against its field's type and bounds when the
dataclass is constructed, so a bad value fails before any training starts, naming key and value."""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar


class ConfigError(ValueError):
    """An unknown config key, a value of the wrong type or out of range, or an unreadable config file."""


C = TypeVar("C", bound="TrainConfig")

# The formats a run saves its config in (config.json or config.yaml in its directory).
CONFIG_FORMATS = ("json", "yaml")


def param(
    default: Any,
    help: str = "",
    *,
    min: float | None = None,
    gt: float | None = None,
    max: float | None = None,
    choices: Iterable[Any] | None = None,
) -> Any:
    """A config field with its help text and bounds (min/max inclusive, gt exclusive, choices)."""
    meta = {
        "help": help,
        "min": min,
        "gt": gt,
        "max": max,
        "choices": tuple(choices) if choices is not None else None,
    }
    return field(default=default, metadata=meta)


@dataclass
class TrainConfig:
    """What every experiment's loop needs. An experiment subclasses this with its own fields."""

    # numpy's seeds are 32-bit.
    seed: int = param(0, "seeds Python, numpy, torch and the data order", min=0, max=2**32 - 1)
    epochs: int = param(10, "passes over the training set (ignored when max_steps > 0)", min=1)
    max_steps: int = param(0, "optimiser steps to train; 0 trains for `epochs`", min=0)
    batch_size: int = param(64, "global batch size, split evenly across data-parallel processes", min=1)
    lr: float = param(1e-3, "peak learning rate", gt=0)
    weight_decay: float = param(0.0, "weight decay", min=0)
    optimizer: str = param("adam", "optimiser", choices=("adam", "adamw", "sgd"))
    momentum: float = param(0.9, "momentum (sgd only)", min=0, max=1)
    scheduler: str = param("cosine", "learning-rate schedule over the run", choices=("cosine", "constant"))
    grad_clip: float = param(0.0, "clip the global gradient norm to this; 0 disables", min=0)
    precision: str = param("fp32", "bf16 runs forward and loss under bf16 autocast", choices=("fp32", "bf16"))
    device: str = param("auto", "auto picks CUDA when available", choices=("auto", "cpu", "cuda"))
    log_every: int = param(10, "steps between metrics-log lines", min=1)
    checkpoint_every: int = param(100, "steps between checkpoints; 0 writes one only at the end", min=0)
    eval_every: int = param(1, "epochs between evaluations; 0 evaluates only at the end", min=0)

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = _check_type(f.name, getattr(self, f.name), hints[f.name])
            _check_bounds(f.name, value, f.metadata)
            object.__setattr__(self, f.name, value)


def config_fields(cls: type[TrainConfig]) -> list[tuple[str, Any, Any, str]]:
    """(name, type, default, help) of each field, for help texts."""
    hints = typing.get_type_hints(cls)
    return [(f.name, hints[f.name], f.default, f.metadata.get("help", "")) for f in dataclasses.fields(cls)]


def type_name(tp: Any) -> str:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if _is_optional(tp):
        return f"{type_name(args[0])} or none"
    return getattr(tp, "__name__", str(tp))


def config_to_dict(cfg: TrainConfig) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def config_from_dict(
    cls: type[C], data: Mapping[str, Any], *, base: C | None = None, source: str = "config"
) -> C:
    """cls built from base (or its defaults) with the keys of data replaced; unknown keys raise."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: a config must be a mapping of key: value, got {type(data).__name__}")
    _reject_unknown(cls, data.keys(), source)
    values = config_to_dict(base) if base is not None else {}
    values.update(data)
    return cls(**values)


def apply_overrides(cfg: C, overrides: Iterable[str]) -> C:
    """cfg with each `key=value` applied; value is parsed by the key's type (`none` for an optional)."""
    hints = typing.get_type_hints(type(cfg))
    parsed: dict[str, Any] = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        _reject_unknown(type(cfg), [key], "--set")
        parsed[key] = _parse_text(key, text.strip(), hints[key])
    return dataclasses.replace(cfg, **parsed)


def load_config_file(path: str | Path) -> dict[str, Any]:
    """The mapping in a .json, .yaml or .yml file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    text = path.read_text()
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as e:  # the parsers raise their own error types; all mean "unreadable"
        raise ConfigError(f"config file {path} cannot be parsed: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of key: value, got {type(data).__name__}")
    return data


def save_config(cfg: TrainConfig, path: str | Path) -> None:
    """Writes cfg as YAML when path ends in .yaml/.yml, else as JSON."""
    path = Path(path)
    data = config_to_dict(cfg)
    if path.suffix in (".yaml", ".yml"):
        import yaml

        path.write_text(yaml.safe_dump(data, sort_keys=False))
    else:
        path.write_text(json.dumps(data, indent=2) + "\n")


def _reject_unknown(cls: type[TrainConfig], keys: Iterable[str], source: str) -> None:
    known = [f.name for f in dataclasses.fields(cls)]
    for key in keys:
        if not isinstance(key, str) or key not in known:
            close = difflib.get_close_matches(key, known, n=1) if isinstance(key, str) else []
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
            raise ConfigError(f"unknown config key {key!r} in {source}{hint}")


def _is_optional(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)


def _check_type(key: str, value: Any, tp: Any) -> Any:
    if _is_optional(tp):
        if value is None:
            return None
        tp = next(a for a in typing.get_args(tp) if a is not type(None))
    # bool is an int subclass, but `epochs: true` is a mistake, not a 1.
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp in (str, bool) and type(value) is tp:
        return value
    raise ConfigError(f"config {key}={value!r}: expected {type_name(tp)}, got {type(value).__name__}")


def _check_bounds(key: str, value: Any, meta: Mapping[str, Any]) -> None:
    if value is None:
        return
    # NaN compares false with every bound, and inf passes a lower one: neither is a usable setting.
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"config {key}={value!r}: must be a finite number")
    if meta.get("choices") is not None and value not in meta["choices"]:
        raise ConfigError(f"config {key}={value!r}: must be one of {', '.join(map(repr, meta['choices']))}")
    if meta.get("min") is not None and value < meta["min"]:
        raise ConfigError(f"config {key}={value!r}: must be >= {meta['min']}")
    if meta.get("gt") is not None and value <= meta["gt"]:
        raise ConfigError(f"config {key}={value!r}: must be > {meta['gt']}")
    if meta.get("max") is not None and value > meta["max"]:
        raise ConfigError(f"config {key}={value!r}: must be <= {meta['max']}")


def _parse_text(key: str, text: str, tp: Any) -> Any:
    if _is_optional(tp):
        if text.lower() in ("none", "null"):
            return None
        tp = next(a for a in typing.get_args(tp) if a is not type(None))
    try:
        if tp is bool:
            lowered = text.lower()
            if lowered in ("true", "yes", "on", "1"):
                return True
            if lowered in ("false", "no", "off", "0"):
                return False
            raise ValueError
        if tp is int:
            return int(text)
        if tp is float:
            return float(text)
        return text
    except ValueError:
        raise ConfigError(f"config {key}={text!r}: expected {type_name(tp)}") from None
