"""The `hnn-fast` command."""

from __future__ import annotations

import argparse
import json
import sys


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hnn-fast", description="Fused kernels for hybrid neural networks.")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="print what this build contains")
    info.add_argument("--json", action="store_true", help="print as JSON")
    info.set_defaults(run=_info)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
