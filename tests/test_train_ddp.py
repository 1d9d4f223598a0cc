"""Data-parallel training: two gloo processes launched by torchrun on the loopback interface train to
the same weights as one process on the combined batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import torch

pytest.importorskip("sklearn")

from hnn_fast.train import load_checkpoint, train

# Direct (noise-free) input: with bernoulli input each process would draw its own spikes, and the
# runs could not be compared sample by sample.
CONFIG = [
    "hidden=16",
    "time_steps=4",
    "batch_size=128",
    "max_steps=6",
    "log_every=1",
    "encoding=direct",
    "lr=0.01",
    "device=cpu",
]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun_train(experiment: str, out, overrides: list[str]) -> subprocess.CompletedProcess:
    """`hnn-fast train` in two gloo processes on the loopback interface."""
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes",
        "1",
        "--nproc-per-node",
        "2",
        "--master-addr",
        "127.0.0.1",
        "--master-port",
        str(_free_port()),
        "-m",
        "hnn_fast.cli",
        "train",
        experiment,
        "--out",
        str(out),
        "--no-progress",
    ]
    for item in overrides:
        cmd += ["--set", item]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def test_two_gloo_processes_match_one_process_on_the_combined_batch(tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        single = train("snn-digits", overrides=CONFIG, out_dir=tmp_path / "one", progress=False)
    finally:
        torch.set_num_threads(threads)

    out = tmp_path / "two"
    proc = _torchrun_train("snn-digits", out, CONFIG)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    two = load_checkpoint(out / "checkpoints" / "last.pt")
    assert two["world_size"] == 2 and len(two["processes"]) == 2
    for key, value in single.model.state_dict().items():
        torch.testing.assert_close(two["model"][key], value, rtol=1e-5, atol=1e-6, msg=key)
    # Only rank 0 writes: one log line per step, one results file saying two processes ran.
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train_lines = [line for line in lines if line["split"] == "train"]
    assert [line["step"] for line in train_lines] == list(range(1, 7))
    # The loss fell, so the weights moved and the match above is not vacuous.
    assert train_lines[-1]["loss"] < train_lines[0]["loss"] - 0.05
    assert json.loads((out / "results.json").read_text())["world_size"] == 2


def test_hsn_two_phase_training_under_torchrun(tmp_path):
    # Each phase trains one pathway, so every step leaves the other without gradients; DDP must be told.
    out = tmp_path / "hsn"
    proc = _torchrun_train(
        "hsn",
        out,
        [
            "max_steps=4",
            "batch_size=4",
            "sensor=32",
            "duration_ms=120",
            "train_recordings=2",
            "eval_recordings=2",
            "eval_speeds=1",
            "channels=8",
            "width=8",
            "bench_iters=1",
            "checkpoint_every=0",
            "device=cpu",
            "log_every=1",
        ],
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    phases = [line["phase"] for line in lines if line["split"] == "train"]
    assert phases == [1.0, 1.0, 2.0, 2.0]
    assert json.loads((out / "results.json").read_text())["world_size"] == 2


def test_hmn_phases_under_torchrun(tmp_path):
    from test_hmn import TINY

    out = tmp_path / "hmn"
    proc = _torchrun_train("hmn", out, [*TINY, "device=cpu"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["world_size"] == 2
    assert list(results["methods"]) == ["hmn", "snn", "ewc", "hmn+ewc", "ann-only", "snn-only"]
    for rec in results["methods"].values():
        assert all(0 <= a <= 1 for row in rec["accuracy_matrix"] for a in row if a is not None)
