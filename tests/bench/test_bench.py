"""The benchmark suite in its tiny mode: it runs end to end, its JSON conforms to the documented
schema, peers that are missing or broken are skipped with a message, and models join through the
registry. Speed itself is not asserted here (see DESIGN.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from hnn_fast import cli, ops
from hnn_fast.bench import Config, ModelCase, register_model, report, suite
from hnn_fast.bench import models as model_registry
from hnn_fast.bench import peers as peers_module
from hnn_fast.bench.ops_table import OPS
from hnn_fast.bench.schema import validate


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[dict, Path]:
    directory = tmp_path_factory.mktemp("results")
    json_path = directory / "copy" / "run.json"
    rc = cli.main(
        [
            "bench",
            "--tiny",
            "--only",
            "lif,leaky,hu,models",
            "--threads",
            "1",
            "--no-progress",
            "--results-dir",
            str(directory),
            "--json",
            str(json_path),
        ]
    )
    assert rc == 0
    return json.loads(json_path.read_text()), directory


def test_tiny_run_times_every_op_mode_and_size(tiny_run):
    results, _ = tiny_run
    seen = {(r["op"], r["mode"], r["size"]) for r in results["ops"]}
    assert seen == {
        (op.name, mode, size) for op in OPS for mode in op.modes for size in ("in-cache", "out-of-cache")
    }
    assert {"lif", "leaky_integrate", "hu_window", "hu_encode"} <= {op.name for op in OPS}
    for r in results["ops"]:
        assert r["speedup_vs_reference"] > 0 and r["copy_bandwidth_fraction"] > 0
        assert r["speedup_vs_compiled"] is None  # tiny compiles nothing
        if r["mode"] == "forward":
            assert r["max_abs_error"] < 1e-5
    assert results["config"]["threads"] == 1
    assert results["copy_bandwidth"]["bytes_per_s"] > 0
    assert {t["metric"] for t in results["targets"]} >= {"speedup_vs_reference", "copy_bandwidth_fraction"}


def test_results_file_and_json_conform_to_schema(tiny_run):
    results, directory = tiny_run
    assert validate(results) == []
    saved = report.load_history(directory)
    assert len(saved) == 1 and saved[0] == results


def test_schema_reports_what_is_wrong(tiny_run):
    results = json.loads(json.dumps(tiny_run[0]))
    results["ops"][0]["mode"] = "sideways"
    del results["machine"]["git_commit"]
    results["copy_bandwidth"]["bytes_per_s"] = "fast"
    errors = validate(results)
    assert any("$.ops[0].mode" in e for e in errors)
    assert any("git_commit" in e for e in errors)
    assert any("$.copy_bandwidth.bytes_per_s" in e for e in errors)


def test_console_table_and_plot(tiny_run, tmp_path):
    results, directory = tiny_run
    text = report.render(results)
    for needle in ("copy bandwidth", "leaky_integrate", "forward+backward", "Targets", "Skipped"):
        assert needle in text
    pytest.importorskip("matplotlib")
    out = tmp_path / "history.png"
    assert cli.main(["bench", "plot", "--results-dir", str(directory), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compiled_reference_is_timed_where_the_preset_compiles():
    config = Config.from_preset(
        "tiny", only=("leaky",), sizes={"in-cache": (2, 2, 8)}, compile_sizes=("in-cache",)
    )
    results = suite.run(config, progress=False)
    assert validate(results) == []
    for r in results["ops"]:
        assert r["speedup_vs_compiled"] > 0 and r["compile_s"] > 0 and "compiled" in r["times"]


def test_missing_or_broken_peer_is_skipped_with_a_message(monkeypatch):
    def broken(backend, device, decay, threshold):
        raise RuntimeError("no kernel for you")

    exact = next(p for p in peers_module.PEERS if p.match == "exact")
    monkeypatch.setattr(
        suite,
        "PEERS",
        [
            peers_module.Peer(
                "Nowhere LIF", "hnn-fast-no-such-peer", "exact", lambda d, t: "", lambda d: ["torch"], broken
            ),
            peers_module.Peer("Broken LIF", "torch", "exact", lambda d, t: "", lambda d: ["torch"], broken),
            # a peer that computes our own dynamics stands in for an installed one
            peers_module.Peer(
                "Self LIF",
                "torch",
                exact.match,
                lambda d, t: "ours",
                lambda d: ["torch"],
                lambda b, dev, d, t: lambda x: ops.lif(x, decay=d, threshold=t)[0],
            ),
        ],
    )
    results = suite.run(Config.from_preset("tiny", only=("peers",)), progress=False)
    assert validate(results) == []
    why = {s["what"]: s["why"] for s in results["skipped"]}
    assert "not installed" in why["Nowhere LIF"]
    assert "no kernel for you" in why["Broken LIF [torch]"]
    (entry,) = results["peers"]["agreement"]
    assert entry["peer"] == "Self LIF" and entry["agreement"]["spike_agreement"] == 1.0
    assert {t["mode"] for t in results["peers"]["timings"]} == {"forward", "forward+backward"}
    assert "Nowhere LIF" in report.render(results)


def test_installed_peers_match_our_dynamics():
    installed = [p for p in peers_module.PEERS if p.version() is not None]
    if not installed:
        pytest.skip("no peer library installed (pip install '.[peers]')")
    runner = suite._Run(Config.from_preset("tiny"), suite._Progress(0, enabled=False))
    entries = suite._peer_agreement(runner, suite._peer_runners(runner))
    assert {e["peer"] for e in entries} == {p.name for p in installed}
    for entry in entries:
        assert entry["agreement"]["spike_agreement"] == 1.0, entry


def test_registered_model_is_timed_on_both_backends():
    class Toy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(8, 4)

        def forward(self, x):
            return ops.lif(self.fc(x))[0].mean(0)

    @register_model("toy")
    def _toy(device, dtype, preset):
        model = Toy().to(device, dtype)
        x = torch.randn(4, 3, 8, device=device, dtype=dtype)
        return ModelCase(
            model, (x,), torch.zeros(3, 4, device=device, dtype=dtype), torch.nn.functional.mse_loss
        )

    try:
        results = suite.run(Config.from_preset("tiny", only=("models",)), progress=False)
    finally:
        model_registry.unregister_model("toy")
    assert validate(results) == []
    toy = {r["mode"]: r for r in results["models"] if r["model"] == "toy"}
    assert set(toy) == {"train", "inference"} and all(r["speedup"] > 0 for r in toy.values())
    assert ops.get_backend() == "fused"


def test_model_without_gradient_training_is_timed_for_inference_only():
    class Rule(torch.nn.Module):  # no parameters, like the Hebbian-built reasoner
        def forward(self, x):
            return ops.lif(x)[0].sum(0)

    @register_model("rule")
    def _rule(device, dtype, preset):
        return ModelCase(
            Rule(), (torch.rand(5, 16, device=device, dtype=dtype),), None, None, trainable=False
        )

    try:
        results = suite.run(Config.from_preset("tiny", only=("models",)), progress=False)
    finally:
        model_registry.unregister_model("rule")
    assert validate(results) == []
    assert {r["mode"] for r in results["models"] if r["model"] == "rule"} == {"inference"}
    assert any("model rule train" in str(s) for s in results["skipped"])


def test_only_rejects_unknown_groups():
    with pytest.raises(SystemExit):
        cli.main(["bench", "--only", "lif,nonsense"])
