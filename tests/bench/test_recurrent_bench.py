"""The recurrent group of the benchmark suite in its tiny mode: every kind, size and mode is timed
side by side with the reference loop and the recurrent peers, the JSON conforms to the schema, the
training-size targets are reported where measured, and a broken peer is skipped with a message.
Speed itself is not asserted here."""

from __future__ import annotations

import pytest
import torch

from hnn_fast.bench import Config, report, suite
from hnn_fast.bench import recurrent as recurrent_module
from hnn_fast.bench.peers import RECURRENT_PEERS, RecurrentPeer, installed_version
from hnn_fast.bench.schema import validate


def test_tiny_run_times_every_recurrent_case_side_by_side():
    config = Config.from_preset("tiny", only=("recurrent",), threads=1)
    results = suite.run(config, progress=False)
    assert validate(results) == []
    section = results["recurrent"]
    expected = {
        (f"{kind}-{shape[-1]}", tuple(shape), mode)
        for kind, sizes in config.recurrent_sizes.items()
        for shape in sizes
        for mode in recurrent_module.KIND_MODES[kind]
    }
    assert {(r["size"], tuple(r["shape"]), r["mode"]) for r in section["cases"]} == expected
    assert {r["mode"] for r in section["cases"] if r["kind"] == "hrn"} == {"forward"}
    assert {r["mode"] for r in section["cases"] if r["kind"] == "rsnn"} == {"forward", "forward+backward"}
    installed = installed_version("snntorch") is not None
    peers = {p.name for p in RECURRENT_PEERS}
    assert {p["peer"] for p in section["peers"]} == (peers if installed else set())
    for r in section["cases"]:
        assert 0 < r["firing_rate"] < 1, r  # a silent or saturated network times nothing useful
        assert r["speedup_vs_reference"] > 0 and r["product_flop_per_s"] > 0
        assert set(r["speedup_vs_peers"]) == set(r["times"]) - {"fused", "reference"}
        assert set(r["speedup_vs_peers"]) == (peers if installed else set())
        if r["mode"] == "forward":
            assert r["max_abs_error"] == 0.0  # the same products as the reference: identical spikes
        else:
            assert r["max_abs_error"] is None
    if not installed:
        assert any("not installed" in s["why"] for s in results["skipped"])
    text = report.render(results)
    assert "Recurrent LIF" in text and "rsnn-16" in text and "reference loop" in text


def test_training_size_target_is_reported_where_measured():
    config = Config.from_preset(
        "tiny", only=("recurrent",), threads=1, recurrent_sizes={"rsnn": ((2, 2, 256),)}
    )
    results = suite.run(config, progress=False)
    assert validate(results) == []
    (target,) = [t for t in results["targets"] if t["op"] == "lif_recurrent"]
    (measured,) = [r for r in results["recurrent"]["cases"] if r["mode"] == "forward+backward"]
    assert target["size"] == "rsnn-256" and target["at_least"] == 5.0
    assert target["value"] == measured["speedup_vs_reference"]
    assert target["met"] == (measured["speedup_vs_reference"] >= 5.0)


def test_broken_recurrent_peer_is_skipped_with_a_message(monkeypatch):
    def broken(weight, decay, threshold):
        raise RuntimeError("no recurrence here")

    monkeypatch.setattr(
        recurrent_module,
        "RECURRENT_PEERS",
        [
            RecurrentPeer("Missing RLIF", "hnn-fast-no-such-peer", lambda d, t: "", broken),
            RecurrentPeer("Broken RLIF", "torch", lambda d, t: "", broken),
        ],
    )
    config = Config.from_preset("tiny", only=("recurrent",), threads=1, recurrent_sizes={"hrn": ((2, 2, 8),)})
    results = suite.run(config, progress=False)
    assert validate(results) == []
    why = {s["what"]: s["why"] for s in results["skipped"]}
    assert "not installed" in why["Missing RLIF"]
    assert "no recurrence here" in why["Broken RLIF forward at [2, 2, 8]"]
    (case,) = results["recurrent"]["cases"]
    assert set(case["times"]) == {"fused", "reference"}


def test_snntorch_rleaky_is_given_our_synapse_orientation():
    """With decay 0 and a spike of neuron 0 at step 1 only, step 2's input is row 0 of our weight:
    weight[0, j] is the synapse from 0 to j. The peer must see that row, not the column."""
    pytest.importorskip("snntorch")  # the peers extra, which make test installs
    weight = torch.zeros(4, 4)
    weight[0] = torch.tensor([0.0, 2.0, 0.5, 3.0])
    weight[1:, 0] = 5.0  # the column: would make neuron 0 fire again if the orientation were wrong
    x = torch.zeros(2, 1, 4)
    x[0, 0, 0] = 2.0
    for peer in RECURRENT_PEERS:
        runner, (parameter,) = peer.build(weight, 0.0, 1.0)
        with torch.no_grad():
            spikes = runner(x)
        assert spikes[0, 0].tolist() == [1.0, 0.0, 0.0, 0.0], peer.name
        assert spikes[1, 0].tolist() == [0.0, 1.0, 0.0, 1.0], peer.name
        assert parameter.requires_grad
