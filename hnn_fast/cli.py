"""The `hnn-fast` command. Each subcommand lives beside what it runs and registers itself here
through a `register(subparsers)` function."""

from __future__ import annotations

import argparse
import importlib
import json
import sys

# Modules that add subcommands (bench, train, ...), each with register(subparsers).
_COMMAND_MODULES: list[str] = ["hnn_fast.train.cli", "hnn_fast.bench.command", "hnn_fast.networks.hrn.cli"]


def _info(args: argparse.Namespace) -> int:
    import hnn_fast

    info = hnn_fast.build_info()
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        width = max(map(len, info))
        for key, value in info.items():
            if isinstance(value, list):
                value = ", ".join(value) or "-"
            print(f"{key:<{width}}  {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hnn-fast", description="Fused kernels for hybrid neural networks.")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="print what this build contains")
    info.add_argument("--json", action="store_true", help="print as JSON")
    info.set_defaults(run=_info)
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
