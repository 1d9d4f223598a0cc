"""Data-parallel training: two gloo processes launched by torchrun on the loopback interface train to
the same weights as one process on the combined batch."""

from __future__ import annotations

import json

import pytest
import torch

pytest.importorskip("sklearn")

from hnn_fast.train import load_checkpoint, train

from helpers import torchrun_train

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


def test_two_gloo_processes_match_one_process_on_the_combined_batch(tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        single = train("snn-digits", overrides=CONFIG, out_dir=tmp_path / "one", progress=False)
    finally:
        torch.set_num_threads(threads)

    out = tmp_path / "two"
    proc = torchrun_train("snn-digits", out, CONFIG)
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
