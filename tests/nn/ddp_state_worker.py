"""One rank of tests/nn/test_ddp_state.py (launched by torchrun): a network with a streaming LIF
(stateful=True: the membrane carries over from one chunk of steps to the next, truncated BPTT),
wrapped in DistributedDataParallel with and without ddp_ignore_states, run on this rank's half of a
batch in two chunks; saves what the test compares to <out>/rank<r>.pt."""

import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from hnn_fast import nn as hnn


def network() -> nn.Sequential:
    """BatchNorm (in eval mode, so that each rank normalises as one process would) gives DDP buffers to
    broadcast: without any, DDP skips its buffer sync altogether."""
    torch.manual_seed(0)
    return nn.Sequential(
        hnn.TimeDistributed(nn.Linear(6, 8), nn.BatchNorm1d(8).eval()),
        hnn.LIF(0.8, 0.5, stateful=True),
        hnn.TimeDistributed(nn.Linear(8, 3)),
    ).double()


def batch() -> torch.Tensor:
    return torch.rand(10, 8, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2


def chunks(net: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Two chunks of 5 steps, a backward after each (the held membrane carries into the second)."""
    outputs = []
    for chunk in x.split(5):
        out = net(chunk)
        for p in net.parameters():
            p.grad = None
        out.square().mean().backward()
        outputs.append(out.detach())
    return outputs


def main() -> None:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    shard = batch()[:, 4 * rank : 4 * (rank + 1)]
    local = network()
    local_out = chunks(local, shard)
    result = {}
    for mode in ("ignore", "default"):
        net = network()
        if mode == "ignore":
            hnn.ddp_ignore_states(net)
        out = chunks(DistributedDataParallel(net), shard)
        result[mode] = {
            "output_equal": all(torch.equal(a, b) for a, b in zip(out, local_out)),
            "state_equal": torch.equal(net[1].v, local[1].v),
            "grads": [p.grad for p in net.parameters()],  # of the second chunk
        }
    torch.save(result, Path(sys.argv[1]) / f"rank{rank}.pt")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
