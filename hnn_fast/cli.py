"""The `hnn-fast` command. Each subcommand lives beside what it runs and registers itself here
through a `register(subparsers)` function.

Every failure is one line on stderr naming what is wrong, with a non-zero exit status; `--debug` or
HNN_FAST_DEBUG=1 shows the traceback instead."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
from pathlib import Path

DEBUG_ENV = "HNN_FAST_DEBUG"

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


class CommandError(Exception):
    """A bad argument or an unusable path, found before any work starts."""


def check_output_dir(path: str | os.PathLike, option: str) -> Path:
    """The directory an output option names, created now and probed with a file: a file in its place or
    a folder that cannot be written fails here, before the work whose results would go there."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise CommandError(f"{option} {path}: cannot write there ({e.strerror or e})") from None
    return path


def check_output_file(path: str | os.PathLike, option: str) -> Path:
    """The file an output option names: its folder must be writable and the file itself, when it exists,
    a writable file."""
    path = Path(path)
    check_output_dir(path.parent, option)
    if path.is_dir():
        raise CommandError(f"{option} {path}: is a directory, not a file")
    if path.exists() and not os.access(path, os.W_OK):
        raise CommandError(f"{option} {path}: the file is not writable")
    return path


def _debug(args: argparse.Namespace) -> bool:
    return args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    # A message that names the problem stands alone; anything else keeps its type for a bug report.
    known = isinstance(e, (CommandError, ValueError, TypeError, OSError, LookupError, RuntimeError))
    return text if text and known else f"{type(e).__name__}: {text}" if text else type(e).__name__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hnn-fast", description="Fused kernels for hybrid neural networks.")
    parser.add_argument(
        "--debug", action="store_true", help=f"show the traceback of an error (also: {DEBUG_ENV}=1)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="print what this build contains")
    info.add_argument("--json", action="store_true", help="print as JSON")
    info.set_defaults(run=_info)
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        if _debug(args):
            raise
        print(f"hnn-fast {args.command}: interrupted", file=sys.stderr)
        return 130  # the shell's code for Ctrl-C
    except Exception as e:
        if _debug(args):
            raise
        print(f"hnn-fast {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return 2 if isinstance(e, (CommandError, ValueError, TypeError, OSError, LookupError)) else 1


if __name__ == "__main__":
    sys.exit(main())
