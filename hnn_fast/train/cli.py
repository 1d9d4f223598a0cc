"""`hnn-fast train EXPERIMENT`: the command-line face of hnn_fast.train.train. The same command runs
under torchrun for data-parallel training."""

from __future__ import annotations

import argparse
import sys

from ..cli import check_output_dir
from .checkpoint import CheckpointError
from .config import (
    CONFIG_FORMATS,
    ConfigError,
    TrainConfig,
    apply_overrides,
    config_fields,
    config_from_dict,
    load_config_file,
    type_name,
)
from .registry import experiment_names, get_experiment


def register(subparsers: argparse._SubParsersAction) -> None:
    names = experiment_names()
    p = subparsers.add_parser(
        "train",
        help="train an experiment (single process, or data-parallel under torchrun)",
        description="Train an experiment. Config: the experiment's defaults, then --quick, then --config, "
        "then each --set. Data-parallel: torchrun --nproc-per-node N -m hnn_fast.cli train ...",
        epilog="Show an experiment's config keys, types and help with --show-config.",
    )
    p.add_argument("experiment", choices=names, metavar="EXPERIMENT", help=f"one of: {', '.join(names)}")
    p.add_argument("--quick", action="store_true", help="a short smoke run (the experiment's quick preset)")
    p.add_argument("--config", metavar="FILE", help="a JSON or YAML file of config values")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override one config value"
    )
    p.add_argument("--out", metavar="DIR", help="run directory (default runs/EXPERIMENT-TIMESTAMP)")
    p.add_argument(
        "--resume",
        nargs="?",
        const=True,
        metavar="RUN_OR_CHECKPOINT",
        help="continue a run: a run directory or checkpoint file; alone, the run in --out",
    )
    p.add_argument(
        "--stop-at",
        type=int,
        metavar="STEP",
        help="checkpoint and stop at this step, to be continued with --resume",
    )
    p.add_argument(
        "--config-format",
        choices=CONFIG_FORMATS,
        default="json",
        help="format of the config file saved in the run directory",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--show-config", action="store_true", help="print the resolved config and exit")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from .loop import train

    try:
        exp = get_experiment(args.experiment)
        if args.resume is not None:
            if args.quick or args.config:
                raise ConfigError("--resume takes the config from the checkpoint; change values with --set")
            if args.resume is True and not args.out:
                raise ConfigError("--resume without a path needs --out DIR, the run to continue")
            resume = args.out if args.resume is True else args.resume
            cfg = None
        else:
            resume = None
            cfg = exp.config_class()
            if args.quick:
                cfg = config_from_dict(
                    exp.config_class, exp.quick, base=cfg, source=f"{exp.name} --quick preset"
                )
            if args.config:
                cfg = config_from_dict(
                    exp.config_class,
                    load_config_file(args.config),
                    base=cfg,
                    source=f"config file {args.config}",
                )
        if args.show_config:
            if cfg is None:
                raise ConfigError(
                    "--show-config shows a new run's config; a resumed run's is in its directory"
                )
            _show(apply_overrides(cfg, args.set))
            return 0
        if args.out:
            check_output_dir(args.out, "--out")
        result = train(
            exp,
            cfg,
            overrides=args.set,
            out_dir=args.out,
            resume=resume,
            stop_at_step=args.stop_at,
            progress=not args.no_progress,
            config_format=args.config_format,
        )
    except (ConfigError, CheckpointError) as e:
        print(f"hnn-fast train: error: {e}", file=sys.stderr)
        return 2
    # 130, the shell's code for Ctrl-C, tells a job scheduler that the run did not finish.
    return 130 if result.status == "interrupted" else 0


def _show(cfg: TrainConfig) -> None:
    rows = [
        (name, type_name(tp), repr(getattr(cfg, name)), help)
        for name, tp, _, help in config_fields(type(cfg))
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + "  " + row[3])
