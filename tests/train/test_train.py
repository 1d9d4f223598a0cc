"""The training runtime (hnn_fast.train) on the snn-digits experiment: exact resume, atomic
checkpoints, clear errors for bad checkpoints and configs, bf16 autocast, and the CLI."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
import torch

pytest.importorskip("sklearn")

from hnn_fast import cli
from hnn_fast.networks.snn_digits.experiment import SNNDigits, SNNDigitsConfig
from hnn_fast.train import (
    CheckpointError,
    ConfigError,
    apply_overrides,
    get_experiment,
    load_checkpoint,
    load_config_file,
    save_config,
    train,
)
from hnn_fast.train.config import config_from_dict

# Five steps per epoch, so 12 steps cross two epoch boundaries (and two evaluations); bernoulli input
# draws from the checkpointed generator, so resume equality also covers the RNG state.
TINY = [
    "hidden=16",
    "time_steps=4",
    "batch_size=256",
    "max_steps=12",
    "checkpoint_every=3",
    "log_every=2",
    "encoding=bernoulli",
    "lr=0.01",
]


# Bit-equality between runs needs the same reduction order, which one thread gives.
pytestmark = pytest.mark.usefixtures("one_thread")


def _train(out: Path, *extra: str, **kwargs):
    return train("snn-digits", overrides=[*TINY, *extra], out_dir=out, progress=False, **kwargs)


def _weights(result) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in result.model.state_dict().items()}


def _assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs by {(a[key] - b[key]).abs().max().item()}"


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("straight")
    result = _train(out)
    assert result.status == "completed" and result.step == 12
    return _weights(result), (out / "metrics.jsonl").read_text()


@pytest.mark.parametrize("stop_at", [5, 7])  # at an epoch boundary and inside an epoch
def test_resume_equals_uninterrupted_run(tmp_path, straight, stop_at):
    weights, log = straight
    first = _train(tmp_path, stop_at_step=stop_at)
    assert first.status == "stopped" and first.step == stop_at
    assert not (tmp_path / "results.json").exists()
    resumed = train("snn-digits", resume=tmp_path, progress=False)
    assert resumed.status == "completed" and resumed.step == 12
    _assert_same_weights(weights, _weights(resumed))
    assert (tmp_path / "metrics.jsonl").read_text() == log
    assert json.loads((tmp_path / "results.json").read_text())["step"] == 12


def test_different_seed_gives_different_weights(tmp_path, straight):
    # Guards the equality test above against passing because nothing depends on the seed.
    other = _weights(_train(tmp_path, "seed=1"))
    assert any(not torch.equal(other[k], straight[0][k]) for k in other)


def test_crash_while_writing_a_checkpoint_keeps_the_last_good_one(tmp_path, straight, monkeypatch):
    real_save = torch.save
    calls = []

    def save_then_die(obj, f, *args, **kwargs):
        calls.append(obj["step"])
        if len(calls) == 2:
            f.write(b"PK\x03\x04 half a checkpoint")
            raise OSError("simulated crash mid-write")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_then_die)
    with pytest.raises(OSError, match="simulated crash"):
        _train(tmp_path)
    monkeypatch.setattr(torch, "save", real_save)
    assert calls == [3, 6]
    ckpt_dir = tmp_path / "checkpoints"
    assert [p.name for p in ckpt_dir.iterdir()] == ["last.pt"]  # no temp file left behind
    assert load_checkpoint(ckpt_dir / "last.pt")["step"] == 3
    resumed = train("snn-digits", resume=tmp_path, progress=False)
    _assert_same_weights(straight[0], _weights(resumed))


def test_sigint_stops_at_a_step_boundary_and_resumes(tmp_path, straight):
    class Interrupted(SNNDigits):
        def train_step(self, model, batch, ctx):
            self.calls = getattr(self, "calls", 0) + 1
            if self.calls == 4:
                os.kill(os.getpid(), signal.SIGINT)
            return super().train_step(model, batch, ctx)

    stopped = train(Interrupted(), overrides=TINY, out_dir=tmp_path, progress=False)
    assert stopped.status == "interrupted" and stopped.step == 4
    assert load_checkpoint(tmp_path / "checkpoints" / "last.pt")["step"] == 4
    resumed = train("snn-digits", resume=tmp_path, progress=False)
    _assert_same_weights(straight[0], _weights(resumed))


def test_bad_checkpoints_raise_an_error_naming_the_path(tmp_path, straight):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a checkpoint at all")
    with pytest.raises(CheckpointError, match=r"garbage\.pt"):
        train("snn-digits", resume=garbage, progress=False)

    foreign = tmp_path / "foreign.pt"
    torch.save({"model": {}}, foreign)
    with pytest.raises(CheckpointError, match=r"foreign\.pt is not an hnn_fast training checkpoint"):
        load_checkpoint(foreign)

    with pytest.raises(CheckpointError, match=r"checkpoint not found: .*missing\.pt"):
        load_checkpoint(tmp_path / "missing.pt")

    run = tmp_path / "run"
    _train(run, "max_steps=3")
    good = run / "checkpoints" / "last.pt"
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"truncated\.pt"):
        load_checkpoint(truncated)


def test_cli_reports_a_corrupt_checkpoint(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_text("oops")
    assert cli.main(["train", "snn-digits", "--resume", str(bad), "--no-progress"]) == 2
    assert f"cannot read checkpoint {bad}" in capsys.readouterr().err


@pytest.mark.parametrize(
    "override, message",
    [
        ("lrr=0.1", "unknown config key 'lrr'.*did you mean 'lr'"),
        ("nonsense=1", "unknown config key 'nonsense'"),
        ("lr=fast", "lr='fast': expected float"),
        ("lr=-1", "lr=-1.0: must be > 0"),
        ("epochs=1.5", "epochs='1.5': expected int"),
        ("optimizer=rmsprop", "optimizer='rmsprop': must be one of"),
        ("test_fraction=0.9", "test_fraction=0.9: must be <= 0.5"),
        ("lr", "'lr' is not of the form key=value"),
    ],
)
def test_bad_overrides_name_key_and_value(override, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(SNNDigitsConfig(), [override])


def test_config_files_round_trip_and_are_checked(tmp_path):
    cfg = apply_overrides(SNNDigitsConfig(), ["lr=0.02", "encoding=bernoulli", "precision=bf16"])
    exp = get_experiment("snn-digits")
    for name in ("config.json", "config.yaml"):
        save_config(cfg, tmp_path / name)
        assert config_from_dict(exp.config_class, load_config_file(tmp_path / name)) == cfg
    (tmp_path / "bad.json").write_text(json.dumps({"epochs": True}))
    with pytest.raises(ConfigError, match="epochs=True: expected int"):
        config_from_dict(exp.config_class, load_config_file(tmp_path / "bad.json"))
    (tmp_path / "broken.yaml").write_text("epochs: [1,\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml cannot be parsed"):
        load_config_file(tmp_path / "broken.yaml")


def test_cli_rejects_unknown_keys_and_experiments(tmp_path, capsys):
    assert cli.main(["train", "snn-digits", "--set", "hiden=3", "--out", str(tmp_path)]) == 2
    assert "unknown config key 'hiden'" in capsys.readouterr().err
    (tmp_path / "c.json").write_text(json.dumps({"batchsize": 3}))
    assert cli.main(["train", "snn-digits", "--config", str(tmp_path / "c.json")]) == 2
    assert "unknown config key 'batchsize' in config file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["train", "no-such-experiment"])
    with pytest.raises(ConfigError, match=r"unknown experiment 'nope'; registered: .*snn-digits"):
        get_experiment("nope")


def test_a_fresh_run_does_not_overwrite_an_existing_one(tmp_path):
    _train(tmp_path, "max_steps=2")
    with pytest.raises(ConfigError, match="already holds a run"):
        _train(tmp_path, "max_steps=2")


def test_bf16_autocast_trains_with_the_fused_ops(tmp_path):
    result = _train(tmp_path, "precision=bf16", "encoding=direct")
    assert all(v.dtype == torch.float32 for v in _weights(result).values())
    assert all(torch.isfinite(torch.tensor(v)) for v in result.metrics["train"].values())
    assert result.metrics["eval"]["acc"] > 0.2  # ten classes: chance is 0.1


def test_quick_run_from_the_cli_learns_the_digits(tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        cli.main(
            ["train", "snn-digits", "--quick", "--out", str(out), "--no-progress", "--config-format", "yaml"]
        )
        == 0
    )
    assert {p.name for p in out.iterdir()} == {"config.yaml", "metrics.jsonl", "results.json", "checkpoints"}
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "completed" and results["world_size"] == 1
    assert results["eval"]["acc"] > 0.85
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert {line["split"] for line in lines} == {"train", "eval"}
    assert "eval acc=" in capsys.readouterr().out


def test_cli_stop_at_then_resume_completes(tmp_path, capsys):
    args = ["train", "snn-digits", "--out", str(tmp_path), "--no-progress"] + [f"--set={kv}" for kv in TINY]
    assert cli.main([*args, "--stop-at", "4"]) == 0
    assert "--resume" in capsys.readouterr().out and not (tmp_path / "results.json").exists()
    assert cli.main(["train", "snn-digits", "--quick", "--resume", "--out", str(tmp_path)]) == 2
    assert "--resume takes the config from the checkpoint" in capsys.readouterr().err
    assert cli.main(["train", "snn-digits", "--resume", "--out", str(tmp_path), "--no-progress"]) == 0
    assert json.loads((tmp_path / "results.json").read_text())["step"] == 12
