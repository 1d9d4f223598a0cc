"""`hnn-fast bench`, `hnn-fast bench plot` and `hnn-fast bench schema`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .config import DTYPES, GROUPS, Config

DEFAULT_RESULTS = Path("benchmarks/results")


def _groups(text: str) -> tuple[str, ...]:
    groups = tuple(g.strip() for g in text.split(",") if g.strip())
    if not groups:
        raise argparse.ArgumentTypeError(f"names no group; choose from {', '.join(GROUPS)}")
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}"
        )
    return groups


def _threads(text: str) -> int:
    try:
        threads = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of threads, got {text!r}") from None
    if threads < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {threads}")
    return threads


def _run(args: argparse.Namespace) -> int:
    import torch

    from ..cli import CommandError, check_output_dir, check_output_file
    from . import report, suite

    # Everything that can make the run fail or its results unsavable is checked before it starts.
    if args.device == "cuda" and not torch.cuda.is_available():
        raise CommandError("--device cuda: no CUDA device is available")
    if not args.no_save:
        check_output_dir(args.results_dir, "--results-dir")
    if args.json:
        check_output_file(args.json, "--json")
    overrides = {"device": args.device, "dtype": args.dtype}
    if args.only is not None:
        overrides["only"] = args.only
    if args.threads is not None:
        overrides["threads"] = args.threads
    config = Config.from_preset(args.preset, **overrides)
    results = suite.run(config, progress=not args.no_progress)
    print(report.render(results))
    if not args.no_save:
        path = report.write(results, args.results_dir / report.results_filename(results))
        print(f"results: {path}")
    if args.json:
        print(f"json: {report.write(results, args.json)}")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from ..cli import check_output_file
    from . import plot, report

    runs = report.load_history(args.results_dir)
    if not runs:
        print(f"no results files in {args.results_dir}", file=sys.stderr)
        return 1
    print(plot.plot(runs, check_output_file(args.out or args.results_dir / "history.png", "--out")))
    return 0


def _schema(args: argparse.Namespace) -> int:
    from .schema import SCHEMA

    print(json.dumps(SCHEMA, indent=1))
    return 0


def register(subparsers) -> None:
    bench = subparsers.add_parser(
        "bench",
        help="benchmark the fused ops, peers and models",
        description="Times every fused op against its reference loop (eager and torch.compile), peer "
        "libraries' LIF neurons and the registered models; prints tables, saves a JSON file.",
    )
    preset = bench.add_mutually_exclusive_group()
    preset.add_argument(
        "--quick",
        dest="preset",
        action="store_const",
        const="quick",
        help="the default: the in-cache and a smaller out-of-cache size, compile at in-cache only",
    )
    preset.add_argument(
        "--full",
        dest="preset",
        action="store_const",
        const="full",
        help="every size compiled, more rounds, the largest out-of-cache size",
    )
    preset.add_argument(
        "--tiny",
        dest="preset",
        action="store_const",
        const="tiny",
        help="a seconds-long check that the suite works (no compile); used by the tests",
    )
    bench.set_defaults(preset="quick", run=_run)
    bench.add_argument(
        "--only", type=_groups, help=f"comma-separated groups: {','.join(GROUPS)} (default: all)"
    )
    bench.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    bench.add_argument("--dtype", choices=list(DTYPES), default="float32")
    bench.add_argument("--threads", type=_threads, help="torch threads (default: torch.get_num_threads())")
    bench.add_argument("--json", type=Path, metavar="PATH", help="also write the results to PATH")
    bench.add_argument(
        "--results-dir",
        type=Path,
        default=DEFAULT_RESULTS,
        help=f"where each run's results file goes (default: {DEFAULT_RESULTS})",
    )
    bench.add_argument("--no-save", action="store_true", help="do not write a results file")
    bench.add_argument("--no-progress", action="store_true", help="no progress line")

    sub = bench.add_subparsers(dest="bench_command")
    plot = sub.add_parser("plot", help="draw the results history and the latest ratios into a PNG")
    plot.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS)
    plot.add_argument("--out", type=Path, help="the PNG (default: RESULTS_DIR/history.png)")
    plot.set_defaults(run=_plot)
    schema = sub.add_parser("schema", help="print the JSON schema of a results file")
    schema.set_defaults(run=_schema)
