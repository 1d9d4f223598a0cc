"""The fused LIF against the reference eager loop and torch.compile of it, forward and
forward+backward, at [32, 64, 1024] and [64, 256, 4096], with the ratios and the fraction of copy
bandwidth: `hnn-fast bench --only lif --full`. Other arguments pass through (--quick, --device cuda,
--dtype, --threads, --json PATH)."""

import sys

from hnn_fast.cli import main

if __name__ == "__main__":
    args = sys.argv[1:]
    preset = [] if {"--quick", "--full", "--tiny"} & set(args) else ["--full"]
    sys.exit(main(["bench", "--only", "lif", *preset, *args]))
