"""Careless and doctored input to the training runtime: resumes whose schedule no longer fits the
checkpoint, NaN and inf config values, doctored checkpoints, leftover temporary files, a diverging
loss."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

pytest.importorskip("sklearn")

from hnn_fast.networks.snn_digits.experiment import SNNDigits, SNNDigitsConfig
from hnn_fast.train import CheckpointError, ConfigError, apply_overrides, load_checkpoint, train
from hnn_fast.train.checkpoint import save_checkpoint
from hnn_fast.train.config import config_from_dict, load_config_file

# Five steps per epoch (batch 256 of the digits' training split).
TINY = ["hidden=8", "time_steps=2", "batch_size=256", "max_steps=8", "log_every=2", "lr=0.01"]

pytestmark = pytest.mark.usefixtures("one_thread")


def _train(out, *extra, **kwargs):
    return train("snn-digits", overrides=[*TINY, *extra], out_dir=out, progress=False, **kwargs)


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    """A run stopped at step 7: epoch 1, batch 2."""
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("stopped")
    assert _train(out, stop_at_step=7).status == "stopped"
    return out


def _resume(run, *overrides):
    return train("snn-digits", resume=run, overrides=list(overrides), progress=False)


@pytest.mark.parametrize("batch_size", [128, 512])
def test_resume_with_another_batch_size_is_refused(stopped, batch_size):
    # 128: 11 batches an epoch, the position no longer adds up; 512: 2, batch 2 is past the epoch's end
    # (the loop used to spin on the empty rest of the epoch).
    with pytest.raises(CheckpointError, match="resume with the batch_size the run was written with"):
        _resume(stopped, f"batch_size={batch_size}")


def test_resume_beyond_the_end_is_refused(stopped):
    with pytest.raises(CheckpointError, match="at step 7, beyond the 4 steps of this config"):
        _resume(stopped, "max_steps=4")


def test_resume_hang_case_from_the_cli_exits(tmp_path):
    # The reported hang, end to end: the process must end, with one line and a non-zero status.
    out = tmp_path / "run"
    cli = [sys.executable, "-m", "hnn_fast.cli", "train", "snn-digits", "--no-progress"]
    sets = [f"--set={kv}" for kv in ["hidden=8", "time_steps=2", "epochs=3"]]
    first = subprocess.run([*cli, *sets, "--out", str(out), "--stop-at=15"], capture_output=True, timeout=300)
    assert first.returncode == 0, first.stderr.decode()
    for batch_size in (128, 256):
        again = subprocess.run(
            [*cli, "--resume", str(out), "--set", f"batch_size={batch_size}"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert again.returncode == 2, again.stdout + again.stderr
        assert again.stderr.count("\n") == 1 and "Traceback" not in again.stderr
        assert "hnn-fast train: error:" in again.stderr


@pytest.mark.parametrize(
    "override, message",
    [
        ("grad_clip=nan", "grad_clip=nan: must be a finite number"),
        ("lr=inf", "lr=inf: must be a finite number"),
        ("lr=nan", "lr=nan: must be a finite number"),
        ("decay=nan", "decay=nan: must be a finite number"),
        ("threshold=inf", "threshold=inf: must be a finite number"),
        ("weight_decay=-inf", "weight_decay=-inf: must be a finite number"),
        (f"seed={2**32}", f"seed={2**32}: must be <= {2**32 - 1}"),
    ],
)
def test_non_finite_and_out_of_range_values_are_refused(override, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(SNNDigitsConfig(), [override])


def test_non_finite_values_in_a_config_file_are_refused(tmp_path):
    path = tmp_path / "c.json"
    path.write_text('{"lr": Infinity}')
    with pytest.raises(ConfigError, match="lr=inf: must be a finite number"):
        config_from_dict(SNNDigitsConfig, load_config_file(path))
    path = tmp_path / "c.yaml"
    path.write_text("epochs: 1e400\n")
    with pytest.raises(ConfigError, match="epochs="):
        config_from_dict(SNNDigitsConfig, load_config_file(path))
    with pytest.raises(ConfigError, match="a config must be a mapping of key: value, got list"):
        config_from_dict(SNNDigitsConfig, [1, 2])
    with pytest.raises(ConfigError, match="unknown config key 3"):
        config_from_dict(SNNDigitsConfig, {3: 1})


def _doctored(run, tmp_path, change, *, rechecksum=True):
    """A copy of the run's checkpoint with `change` applied, saved with a valid checksum (as a careful
    forger would) or with the original one."""
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    change(state)
    out = tmp_path / "doctored"
    (out / "checkpoints").mkdir(parents=True)
    path = out / "checkpoints" / "last.pt"
    if rechecksum:
        save_checkpoint({k: v for k, v in state.items() if k not in ("format", "version")}, path)
    else:
        torch.save(state, path)
    return out


def _set(key, value):
    return lambda state: state.__setitem__(key, value)


def _nan_weight(state):
    first = next(iter(state["model"]))
    state["model"][first] = torch.full_like(state["model"][first], float("nan"))


@pytest.mark.parametrize(
    "change, message",
    [
        (_set("step", -3), "step=-3: must be an int >= 0"),
        (_set("step", 10**6), "beyond the 8 steps"),
        (_set("step", 3.5), "step=3.5: must be an int"),
        (_set("batch_in_epoch", 9), "does not fit this config's 5 batches per epoch"),
        (_nan_weight, "non-finite"),
        (_set("config", [1, 2]), "a config must be a mapping"),
        (lambda state: state["processes"][0].pop("rng"), "no usable random-number state"),
        (lambda state: state["processes"][0]["rng"].pop("numpy"), "no usable random-number state"),
        (_set("processes", "all of them"), "expected a list of per-process states"),
        (_set("last_eval", {"acc": "high"}), "last_eval is malformed"),
    ],
)
def test_doctored_checkpoints_are_refused(stopped, tmp_path, change, message):
    run = _doctored(stopped, tmp_path, change)
    with pytest.raises((CheckpointError, ConfigError), match=message):
        _resume(run)


def test_an_edited_checkpoint_fails_its_checksum(stopped, tmp_path):
    def nudge(state):
        first = next(iter(state["model"]))
        state["model"][first] = state["model"][first] + 1e-3

    run = _doctored(stopped, tmp_path, nudge, rechecksum=False)
    with pytest.raises(CheckpointError, match="fails its checksum"):
        _resume(run)
    run2 = _doctored(stopped, tmp_path / "2", _set("step", 6), rechecksum=False)
    with pytest.raises(CheckpointError, match="fails its checksum"):
        _resume(run2)


def test_stale_temporary_files_are_removed(tmp_path):
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir(parents=True)
    dead = checkpoints / ".last.pt.tmp-999999999"  # beyond any pid the kernel hands out
    dead.write_bytes(b"half a checkpoint")
    _train(tmp_path, "max_steps=2")
    assert sorted(p.name for p in checkpoints.iterdir()) == ["last.pt"]


def test_a_diverging_loss_stops_the_run(tmp_path):
    class Diverging(SNNDigits):
        def train_step(self, model, batch, ctx):
            loss, metrics = super().train_step(model, batch, ctx)
            return loss * float("nan"), metrics

    with pytest.raises(FloatingPointError, match="the training loss is nan at step 2"):
        train(Diverging(), overrides=TINY, out_dir=tmp_path, progress=False)
    assert not (tmp_path / "results.json").exists()
