"""Held states under DistributedDataParallel: two gloo processes (torchrun), each streaming its half
of a batch through a stateful LIF in two chunks. With ddp_ignore_states each rank keeps its own
membrane and the averaged gradients equal one process on the combined batch; without it DDP's buffer
broadcast hands rank 1 the membrane of rank 0 before the second chunk."""

import os
import subprocess
import sys
from pathlib import Path

import torch

from helpers import _free_port, assert_close

sys.path.insert(0, str(Path(__file__).parent))
from ddp_state_worker import batch, chunks, network


def test_states_are_kept_per_rank_under_ddp(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2",
           "--master-addr", "127.0.0.1", "--master-port", str(_free_port()),
           str(Path(__file__).with_name("ddp_state_worker.py")), str(tmp_path)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]

    net = network()
    chunks(net, batch())
    for r, result in enumerate(ranks):
        ignore = result["ignore"]
        assert ignore["output_equal"] and ignore["state_equal"], f"rank {r}"
        for (name, p), g in zip(net.named_parameters(), ignore["grads"]):
            assert_close(f"rank {r} grad {name}", g, p.grad, atol=1e-12, rtol=1e-12)
    # DDP's default broadcast of buffers overwrites rank 1's membrane with rank 0's
    assert ranks[0]["default"]["state_equal"] and not ranks[1]["default"]["state_equal"]
    assert not ranks[1]["default"]["output_equal"]
