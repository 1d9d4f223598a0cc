"""The training loop every experiment shares: seeding, sharded data order, optimiser and schedule,
bf16 autocast, DDP, progress bar, metrics log, atomic checkpoints and exact resume.

Exact resume rests on three things: the data order is a function of (seed, epoch) alone (a
DistributedSampler), the position inside an epoch is checkpointed as a batch index, and every RNG a
step draws from is checkpointed per process. A run stopped at step k and resumed therefore performs
the same floating-point operations as one that never stopped."""

from __future__ import annotations

import json
import math
import signal
import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler, Subset

from .checkpoint import CheckpointError, capture_rng, load_checkpoint, restore_rng, save_checkpoint
from .config import (
    CONFIG_FORMATS,
    C,
    ConfigError,
    TrainConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    load_config_file,
    save_config,
)
from .distributed import Distributed
from .registry import Experiment, StepContext, get_experiment

CHECKPOINT_NAME = "last.pt"


@dataclass
class TrainResult:
    status: str  # "completed", "stopped" (at stop_at_step) or "interrupted" (by a signal); both resumable
    step: int
    epoch: int
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # {"train": ..., "eval": ...}
    out_dir: Path | None = None  # None on processes other than rank 0
    model: nn.Module | None = None


def train(
    experiment: Experiment | str,
    config: TrainConfig | None = None,
    *,
    overrides: Sequence[str] = (),
    out_dir: str | Path | None = None,
    resume: str | Path | None = None,
    stop_at_step: int | None = None,
    progress: bool = True,
    config_format: str = "json",
) -> TrainResult:
    """Trains an experiment; run it under torchrun for data parallelism.

    config: the experiment's config (default: its defaults); with resume, the checkpoint's config is
    used instead. overrides: `key=value` strings applied last. out_dir: where config, metrics.jsonl,
    results.json and checkpoints/ go (default runs/<name>-<timestamp>). resume: a run directory or a
    checkpoint file to continue from. stop_at_step: checkpoint and stop there (resumable), as a
    time-limited cluster job would. config_format: "json" or "yaml".
    """
    exp = get_experiment(experiment) if isinstance(experiment, str) else experiment
    if config_format not in CONFIG_FORMATS:
        formats = " or ".join(map(repr, CONFIG_FORMATS))
        raise ConfigError(f"config_format={config_format!r}: must be {formats}")
    if stop_at_step is not None and stop_at_step < 1:
        raise ConfigError(f"stop_at_step={stop_at_step}: must be >= 1")
    if exp.phased:
        return exp.run_phases(
            config,
            overrides=overrides,
            out_dir=None if out_dir is None else Path(out_dir),
            resume=None if resume is None else Path(resume),
            stop_at_step=stop_at_step,
            progress=progress,
            config_format=config_format,
        )
    checkpoint = None
    if resume is not None:
        checkpoint_path, out_dir = resolve_resume(resume, out_dir)
        checkpoint = load_checkpoint(checkpoint_path)
        if checkpoint["experiment"] != exp.name:
            raise CheckpointError(
                f"checkpoint {checkpoint_path} is of experiment {checkpoint['experiment']!r}, "
                f"not {exp.name!r}"
            )
        config = config_from_dict(
            exp.config_class, checkpoint["config"], source=f"checkpoint {checkpoint_path}"
        )
    config = run_config(exp, config, overrides)
    with processes(config.device) as (dist, device):
        out_dir = default_run_dir(exp.name) if out_dir is None else Path(out_dir)
        run = _Run(exp, config, dist, device, out_dir, checkpoint, progress, config_format)
        return run.run(stop_at_step)


# The run-directory rules, shared by the loop and the phased experiments that drive it.


def default_run_dir(name: str) -> Path:
    """Where a run of experiment `name` goes when no directory is given: runs/<name>-<timestamp>."""
    return Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def checkpoint_file(run_dir: Path) -> Path:
    """The checkpoint a run keeps in its directory, what --resume continues from."""
    return run_dir / "checkpoints" / CHECKPOINT_NAME


def resolve_resume(resume: str | Path, out_dir: str | Path | None = None) -> tuple[Path, Path]:
    """(checkpoint file, run directory) of --resume: a run directory or a checkpoint file, whose run
    directory is the one holding its checkpoints/ folder (else the file's own folder); out_dir, when
    given, is the run directory."""
    resume = Path(resume)
    if resume.is_dir():
        return checkpoint_file(resume), resume if out_dir is None else Path(out_dir)
    if out_dir is not None:
        return resume, Path(out_dir)
    return resume, resume.parent.parent if resume.parent.name == "checkpoints" else resume.parent


def saved_config(run_dir: Path) -> Path | None:
    """The config file a run saved in run_dir (config.json or config.yaml), None if there is none."""
    found = [run_dir / f"config.{ext}" for ext in CONFIG_FORMATS if (run_dir / f"config.{ext}").is_file()]
    return found[0] if found else None


def load_run_config(config_class: type[C], run_dir: Path) -> C:
    """The config a run saved in run_dir."""
    path = saved_config(run_dir)
    if path is None:
        names = " or ".join(f"config.{ext}" for ext in CONFIG_FORMATS)
        raise ConfigError(f"{run_dir} holds no run (no {names})")
    return config_from_dict(config_class, load_config_file(path), source=str(path))


def check_fresh_run_dir(run_dir: Path, resumable: Path | None) -> None:
    """Refuses to start a new run in run_dir when it already holds one, that is when `resumable`, the
    file a resume of it would continue from, exists: the new run would overwrite it."""
    if resumable is not None and resumable.exists():
        raise ConfigError(f"{run_dir} already holds a run; continue it with --resume or choose another --out")


def resume_command(name: str, run_dir: Path) -> str:
    """The command that continues a stopped run."""
    return f"hnn-fast train {name} --resume {run_dir}"


def run_config(exp: Experiment, config: TrainConfig | None, overrides: Sequence[str]) -> TrainConfig:
    """config (None: the experiment's defaults), checked to be the experiment's, with overrides applied."""
    if config is None:
        config = exp.config_class()
    if not isinstance(config, exp.config_class):
        raise TypeError(
            f"experiment {exp.name!r} takes a {exp.config_class.__name__}, got {type(config).__name__}"
        )
    return apply_overrides(config, overrides)


def resolve_device(name: str) -> torch.device:
    """The device a config's `device` names: auto is CUDA when available, else the CPU."""
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("config device='cuda': no CUDA device is available")
    return torch.device("cuda" if name in ("auto", "cuda") and torch.cuda.is_available() else "cpu")


@contextmanager
def processes(device_name: str) -> Iterator[tuple[Distributed, torch.device]]:
    """The data-parallel process group (a group of one without torchrun) and this process's device,
    its own GPU under torchrun; the group is closed on exit."""
    device = resolve_device(device_name)
    dist = Distributed(device.type)
    try:
        yield dist, torch.device("cuda", dist.local_rank) if device.type == "cuda" else device
    finally:
        dist.close()


def _process_seed(seed: int, rank: int, step: int) -> int:
    # Distinct, reproducible streams per process: data-parallel replicas must not draw the same noise.
    return int(np.random.SeedSequence([seed, rank, step]).generate_state(1)[0])


def _seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


class _Means:
    """Batch-size-weighted means of metrics, kept on the device until reduced across processes."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.count = 0

    def add(self, metrics: Mapping[str, Any], n: int) -> None:
        for key, value in metrics.items():
            value = torch.as_tensor(value).detach().to(torch.float64) * n
            self.sums[key] = self.sums[key] + value if key in self.sums else value
        self.count += n

    def reduce(self, dist: Distributed, device: torch.device) -> dict[str, float]:
        keys = sorted(self.sums)
        totals = torch.stack(
            [self.sums[k].to(device).reshape(()) for k in keys]
            + [torch.tensor(float(self.count), dtype=torch.float64, device=device)]
        )
        totals = dist.all_reduce_sum(totals).tolist()
        return {k: totals[i] / totals[-1] for i, k in enumerate(keys)} if totals[-1] else {}

    def state(self) -> dict[str, Any]:
        # Saved so that the first log line after a resume averages the same steps as without one.
        return {"sums": {k: v.item() for k, v in self.sums.items()}, "count": self.count}

    def load(self, state: Mapping[str, Any], device: torch.device) -> None:
        self.sums = {k: torch.tensor(v, dtype=torch.float64, device=device) for k, v in state["sums"].items()}
        self.count = state["count"]


class _StopRequest:
    """SIGINT/SIGTERM ask the loop to finish its step, checkpoint and stop; a second one stops at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True


class _Run:
    def __init__(
        self,
        exp: Experiment,
        cfg: TrainConfig,
        dist: Distributed,
        device: torch.device,
        out_dir: Path,
        checkpoint: dict[str, Any] | None,
        progress: bool,
        config_format: str,
    ):
        self.exp, self.cfg, self.dist, self.device = exp, cfg, dist, device
        self.out_dir, self.progress, self.config_format = out_dir, progress, config_format
        world = dist.world_size
        if cfg.batch_size % world:
            raise ConfigError(
                f"config batch_size={cfg.batch_size}: must be divisible by the number of processes ({world})"
            )
        self.local_batch = cfg.batch_size // world

        _seed_everything(cfg.seed)
        self.train_set, self.eval_set = exp.build_datasets(cfg)
        if len(self.eval_set) < world:
            raise ValueError(
                f"{exp.name}: the evaluation set ({len(self.eval_set)} samples) is smaller than "
                f"the number of processes ({world})"
            )
        self.steps_per_epoch = len(self.train_set) // world // self.local_batch
        if self.steps_per_epoch == 0:
            raise ConfigError(
                f"config batch_size={cfg.batch_size}: larger than the training set "
                f"({len(self.train_set)} samples)"
            )
        self.total_steps = cfg.max_steps or cfg.epochs * self.steps_per_epoch

        _seed_everything(cfg.seed)  # the same initial weights on every process and in every run
        self.model = exp.build_model(cfg).to(device)
        self.optimizer = exp.build_optimizer(self.model, cfg)
        self.scheduler = exp.build_scheduler(self.optimizer, cfg, self.total_steps)
        self.generator = torch.Generator(device=device)
        self._seed_process(0)
        self.step = self.epoch = self.batch_in_epoch = 0
        self.pending = _Means()  # train metrics since the last log line
        self.elapsed = 0.0
        self.last_eval: dict[str, float] = {}
        self.last_train: dict[str, float] = {}
        if checkpoint is not None:
            self._restore(checkpoint)
            self._check_position(checkpoint["world_size"])
        self.ddp = (
            DistributedDataParallel(
                self.model,
                device_ids=[device.index] if device.type == "cuda" else None,
                find_unused_parameters=exp.find_unused_parameters(cfg),
            )
            if dist.enabled
            else self.model
        )
        self.checkpoint_path = checkpoint_file(out_dir)
        if dist.is_main:
            self._prepare_out_dir(resumed=checkpoint is not None)

    def _seed_process(self, step: int) -> None:
        seed = _process_seed(self.cfg.seed, self.dist.rank, step)
        _seed_everything(seed)
        self.generator.manual_seed(seed)

    def _restore(self, ckpt: dict[str, Any]) -> None:
        try:
            self.model.load_state_dict(ckpt["model"])
            self.optimizer.load_state_dict(ckpt["optimizer"])
            self.scheduler.load_state_dict(ckpt["scheduler"])
        except (RuntimeError, ValueError, KeyError) as e:
            raise CheckpointError(
                f"checkpoint does not fit experiment {self.exp.name!r} with its config: {e}"
            ) from e
        self.step, self.epoch, self.batch_in_epoch = ckpt["step"], ckpt["epoch"], ckpt["batch_in_epoch"]
        try:
            self.elapsed = float(ckpt.get("elapsed_s", 0.0))
            self.last_eval = {str(k): float(v) for k, v in dict(ckpt.get("last_eval", {})).items()}
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"checkpoint elapsed_s or last_eval is malformed ({e})") from e
        states = ckpt["processes"]
        if not isinstance(states, list) or not all(isinstance(state, dict) for state in states):
            raise CheckpointError("checkpoint processes: expected a list of per-process states")
        if len(states) == self.dist.world_size:
            mine = states[self.dist.rank]
            try:
                restore_rng(mine["rng"], self.generator)
                self.pending.load(mine["pending_metrics"], self.device)
            except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as e:
                raise CheckpointError(
                    f"checkpoint holds no usable random-number state for process {self.dist.rank} "
                    f"({type(e).__name__}: {e})"
                ) from e
        else:
            # The per-process streams cannot be mapped onto another process count; the run continues
            # correctly but no longer bit-equal to one that kept its process count.
            warnings.warn(
                f"checkpoint was written by {len(states)} processes, resuming with "
                f"{self.dist.world_size}: random streams are reseeded",
                stacklevel=2,
            )
            self._seed_process(self.step)

    def _check_position(self, written_by: Any) -> None:
        """The checkpoint's place in the run must exist in this config's schedule: a step beyond the end
        would be reported as completed, a batch past the end of the epoch would spin on an empty epoch."""
        position = {"step": self.step, "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch}
        for name, value in position.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise CheckpointError(f"checkpoint {name}={value!r}: must be an int >= 0")
        where = f"(step {self.step}, epoch {self.epoch}, batch {self.batch_in_epoch})"
        if self.step > self.total_steps:
            raise CheckpointError(
                f"checkpoint is at step {self.step}, beyond the {self.total_steps} steps of this config; "
                "resume with the epochs, max_steps and batch_size the run was written with, or more steps"
            )
        same_schedule = written_by == self.dist.world_size
        if self.batch_in_epoch >= self.steps_per_epoch or (
            same_schedule and self.step != self.epoch * self.steps_per_epoch + self.batch_in_epoch
        ):
            raise CheckpointError(
                f"checkpoint position {where} does not fit this config's {self.steps_per_epoch} batches "
                f"per epoch (batch_size={self.cfg.batch_size}); resume with the batch_size the run was "
                "written with"
            )

    def _prepare_out_dir(self, resumed: bool) -> None:
        if not resumed:
            check_fresh_run_dir(self.out_dir, self.checkpoint_path)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        save_config(self.cfg, self.out_dir / f"config.{self.config_format}")
        log = self.out_dir / "metrics.jsonl"
        kept = []
        if resumed and log.exists():
            # Lines past the checkpoint were written by the interrupted run and are about to be redone.
            kept = [
                line
                for line in log.read_text().splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= self.step
            ]
        log.write_text("".join(line + "\n" for line in kept))

    def _log(self, record: dict[str, Any]) -> None:
        if self.dist.is_main:
            with open(self.out_dir / "metrics.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")

    def _autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cfg.precision == "bf16")

    def _loader(self) -> DataLoader:
        sampler = DistributedSampler(
            self.train_set,
            num_replicas=self.dist.world_size,
            rank=self.dist.rank,
            shuffle=True,
            seed=self.cfg.seed,
            drop_last=True,
        )
        sampler.set_epoch(self.epoch)
        batches = list(BatchSampler(sampler, self.local_batch, drop_last=True))[self.batch_in_epoch :]
        # Its own generator: a DataLoader draws a base seed each time it starts an iterator, which
        # would otherwise come from torch's global RNG and differ between resumed and straight runs.
        return DataLoader(self.train_set, batch_sampler=batches, generator=torch.Generator())

    def evaluate(self) -> dict[str, float]:
        self.model.eval()
        shard = Subset(self.eval_set, range(self.dist.rank, len(self.eval_set), self.dist.world_size))
        ctx = StepContext(
            self.cfg,
            self.device,
            torch.Generator(device=self.device).manual_seed(self.cfg.seed),
            training=False,
        )
        means = _Means()
        with torch.no_grad(), self._autocast():
            for batch in DataLoader(shard, batch_size=self.local_batch):
                batch = _to_device(batch, self.device)
                means.add(self.exp.eval_step(self.model, batch, ctx), _batch_len(batch))
        return means.reduce(self.dist, self.device)

    def _save_checkpoint(self) -> None:
        states = self.dist.gather_to_main(
            {"rng": capture_rng(self.generator), "pending_metrics": self.pending.state()}
        )
        if self.dist.is_main:
            save_checkpoint(
                {
                    "experiment": self.exp.name,
                    "config": config_to_dict(self.cfg),
                    "step": self.step,
                    "epoch": self.epoch,
                    "batch_in_epoch": self.batch_in_epoch,
                    "world_size": self.dist.world_size,
                    "model": self.model.state_dict(),
                    "optimizer": self.optimizer.state_dict(),
                    "scheduler": self.scheduler.state_dict(),
                    "processes": states,
                    "elapsed_s": self.elapsed,
                    "last_eval": self.last_eval,
                },
                self.checkpoint_path,
            )

    def run(self, stop_at_step: int | None) -> TrainResult:
        from tqdm.auto import tqdm

        cfg = self.cfg
        ctx = StepContext(cfg, self.device, self.generator, training=True)
        bar = tqdm(
            total=self.total_steps,
            initial=self.step,
            desc=self.exp.name,
            unit="step",
            dynamic_ncols=True,
            disable=not (self.progress and self.dist.is_main),
        )
        started = time.perf_counter() - self.elapsed
        eval_step = -1
        stopped = interrupted = False
        with _StopRequest() as stop, bar:
            while self.step < self.total_steps and not stopped:
                loader = self._loader()
                if len(loader) == 0:
                    # _check_position rules this out for a checkpoint; a dataset that shrank between
                    # runs must still not turn into an endless loop.
                    raise CheckpointError(
                        f"no training batches left in epoch {self.epoch} at batch {self.batch_in_epoch}"
                    )
                for batch in loader:
                    self.ddp.train()
                    batch = _to_device(batch, self.device)
                    with self._autocast():
                        loss, metrics = self.exp.train_step(self.ddp, batch, ctx)
                    self.optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if cfg.grad_clip:
                        nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
                    self.optimizer.step()
                    self.scheduler.step()
                    self.step += 1
                    self.batch_in_epoch += 1
                    self.pending.add({"loss": loss, **metrics}, _batch_len(batch))
                    bar.update()

                    if self.step % cfg.log_every == 0 or self.step == self.total_steps:
                        self.last_train = self.pending.reduce(self.dist, self.device)
                        self.pending = _Means()
                        _check_finite_loss(self.last_train, self.step)
                        self._log(
                            {
                                "step": self.step,
                                "epoch": self.epoch,
                                "split": "train",
                                "lr": self.scheduler.get_last_lr()[0],
                                **self.last_train,
                            }
                        )
                        bar.set_postfix(_postfix(self.last_train, self.last_eval), refresh=False)
                    if self.batch_in_epoch == self.steps_per_epoch:
                        if cfg.eval_every and (self.epoch + 1) % cfg.eval_every == 0:
                            self._run_eval(bar)
                            eval_step = self.step
                        self.epoch += 1
                        self.batch_in_epoch = 0

                    done = self.step >= self.total_steps
                    if done and eval_step != self.step:
                        self._run_eval(bar)
                    interrupted = self._stop_requested(stop.requested)
                    stopped = interrupted or self.step == stop_at_step
                    self.elapsed = time.perf_counter() - started
                    if (cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0) or done or stopped:
                        self._save_checkpoint()
                    if done or stopped:
                        break

        status = "completed" if self.step >= self.total_steps else "interrupted" if interrupted else "stopped"
        result = TrainResult(
            status,
            self.step,
            self.epoch,
            {"train": self.last_train, "eval": self.last_eval},
            self.out_dir if self.dist.is_main else None,
            self.model,
        )
        if self.dist.is_main:
            self._report(result)
        self.dist.barrier()
        if status == "completed" and self.dist.is_main:
            self.exp.after_training(self.model, cfg, self.out_dir)
        return result

    def _run_eval(self, bar: Any) -> None:
        self.last_eval = self.evaluate()
        self._log({"step": self.step, "epoch": self.epoch, "split": "eval", **self.last_eval})
        bar.set_postfix(_postfix(self.last_train, self.last_eval), refresh=False)

    def _stop_requested(self, local: bool) -> bool:
        if not self.dist.enabled:
            return local
        # Every process must stop at the same step, or the next collective would hang.
        flag = torch.tensor([float(local)], device=self.device)
        return bool(self.dist.all_reduce_sum(flag).item())

    def _report(self, result: TrainResult) -> None:
        summary = " ".join(f"{k}={v:.4g}" for k, v in self.last_eval.items())
        if result.status == "completed":
            results = {
                "experiment": self.exp.name,
                "status": result.status,
                "step": self.step,
                "epoch": self.epoch,
                "world_size": self.dist.world_size,
                "seed": self.cfg.seed,
                "elapsed_s": round(self.elapsed, 3),
                **result.metrics,
                "checkpoint": str(self.checkpoint_path),
            }
            (self.out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
            print(
                f"{self.exp.name}: {self.step} steps in {self.elapsed:.1f} s, "
                f"eval {summary} -> {self.out_dir}"
            )
        else:
            print(
                f"{self.exp.name}: stopped at step {self.step}/{self.total_steps}; continue with "
                f"`{resume_command(self.exp.name, self.out_dir)}`"
            )


def _check_finite_loss(metrics: Mapping[str, float], step: int) -> None:
    # A NaN or inf loss poisons the weights for good; finishing "completed" would hide it.
    loss = metrics.get("loss")
    if loss is not None and not math.isfinite(loss):
        raise FloatingPointError(
            f"the training loss is {loss} at step {step}: the run diverged (a smaller lr or a grad_clip "
            "may help)"
        )


def _postfix(train: Mapping[str, float], evaluation: Mapping[str, float]) -> dict[str, str]:
    out = {k: f"{v:.4g}" for k, v in train.items()}
    out.update({f"eval_{k}": f"{v:.4g}" for k, v in evaluation.items()})
    return out


def _batch_len(batch: Any) -> int:
    if isinstance(batch, torch.Tensor):
        return batch.shape[0]
    values = batch.values() if isinstance(batch, Mapping) else batch
    return next(_batch_len(v) for v in values if isinstance(v, (torch.Tensor, Mapping, list, tuple)))
