"""The hybrid sensing network: synthetic DAVIS generator, model, correlation head, training (in one
process and in two under torchrun) and streaming evaluation."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from hnn_fast.networks.hsn import evaluation as E
from hnn_fast.networks.hsn import model as M
from hnn_fast.networks.hsn.data import DavisSynthConfig, generate

from helpers import torchrun_train

ONE = DavisSynthConfig(
    height=48,
    width=48,
    duration_ms=120.0,
    n_objects=(1, 1),
    shot_noise_rate_hz=0.0,
    threshold_mismatch=0.0,
    speed=8.0,
)


def _union(boxes: np.ndarray, margin: float) -> np.ndarray:
    """Mask [H, W] of the pixels that any of boxes [K, 4] touches, grown by margin."""
    ys, xs = np.mgrid[0 : ONE.height, 0 : ONE.width]
    mask = np.zeros((ONE.height, ONE.width), dtype=bool)
    for x0, y0, x1, y1 in boxes:
        mask |= (xs + 1 > x0 - margin) & (xs < x1 + margin) & (ys + 1 > y0 - margin) & (ys < y1 + margin)
    return mask


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_generator_boxes_match_rendered_object(seed):
    seq = generate(replace(ONE, duration_ms=400.0), seed, keep_intensity=True)
    box = seq.boxes[:, 0]
    centre = (box[:, :2] + box[:, 2:]) / 2
    a, b = 0, int(np.argmax(np.linalg.norm(centre - centre[0], axis=1)))
    lo = np.maximum(box[a, :2], box[b, :2])
    hi = np.minimum(box[a, 2:], box[b, 2:])
    assert not np.all(hi > lo), "the object must move off its first position for this check"
    changed = np.abs(seq.intensity[a] - seq.intensity[b]) > 1e-9
    # The background is static: every changed pixel is covered by the object at one of the two times.
    assert not (changed & ~_union(box[[a, b]], 1.0)).any()
    # And the object fills its box: the changed pixels span each box to within the soft edge.
    ys, xs = np.nonzero(changed)
    span = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=float)
    union = np.array(
        [
            min(box[a, 0], box[b, 0]),
            min(box[a, 1], box[b, 1]),
            max(box[a, 2], box[b, 2]),
            max(box[a, 3], box[b, 3]),
        ]
    )
    assert np.abs(span - union).max() <= 1.5
    # Box size is constant (rigid objects) and the box stays on the sensor.
    sizes = box[:, 2:] - box[:, :2]
    assert np.allclose(sizes, sizes[0]) and box[:, :2].min() >= 0 and box[:, 2:].max() <= ONE.width


def test_generator_events_only_where_edges_move():
    seq = generate(ONE, 3, keep_intensity=True)
    assert len(seq.events) > 100
    # Cut into 10 ms windows: each window's events lie where the object was during that window.
    t_us = seq.render_t_us
    for start in range(0, len(t_us) - 10, 10):
        sel = (seq.events["t"] > t_us[start]) & (seq.events["t"] <= t_us[start + 10])
        ev = seq.events[sel]
        mask = _union(seq.boxes[start : start + 11, 0], 1.0)
        assert mask[ev["y"], ev["x"]].all()
    # Events fill the time between APS frames, not only frame times.
    frame_t = t_us[seq.aps_index]
    between = ~np.isin(seq.events["t"], frame_t)
    assert between.mean() > 0.9
    # A scene that does not (visibly) move gives no events.
    still = generate(replace(ONE, speed=1e-9), 3)
    assert len(still.events) == 0


def test_generator_streams_and_determinism():
    cfg = replace(ONE, n_objects=(2, 3), shot_noise_rate_hz=1.0)
    a, b, c = generate(cfg, 7), generate(cfg, 7), generate(cfg, 8)
    assert (
        np.array_equal(a.events, b.events)
        and np.array_equal(a.aps, b.aps)
        and np.array_equal(a.boxes, b.boxes)
    )
    assert not np.array_equal(a.boxes, c.boxes)
    assert a.aps.dtype == np.uint8 and a.aps.shape == (len(a.aps_index), 48, 48)
    assert np.array_equal(a.aps_index, np.arange(0, len(a.render_t_us), 40))  # 25 Hz from 1 kHz renders
    assert 2 <= a.boxes.shape[1] <= 3
    # The speed multiplier scales the distance travelled.
    slow, fast = generate(replace(ONE, speed=1.0), 5), generate(replace(ONE, speed=8.0), 5)
    step = lambda s: np.abs(np.diff(s.boxes[:, 0, :2], axis=0)).sum()  # noqa: E731
    assert step(fast) > 4 * step(slow)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"frame_hz": 30.0}, "render_hz / frame_hz"),
        ({"speed": 0.0}, "speed"),
        ({"n_objects": (0, 2)}, "n_objects"),
        ({"paths": ("zigzag",)}, "paths"),
    ],
)
def test_generator_config_errors(kwargs, name):
    with pytest.raises(ValueError, match=name):
        DavisSynthConfig(**kwargs)


@pytest.mark.parametrize("arch, stride", [("small", 4), ("resnet", 8)])
def test_model_shapes(arch, stride):
    net = M.HSN(M.HSNConfig(arch=arch, channels=8, width=8))
    frames = torch.randint(0, 256, (2, 64, 64), dtype=torch.uint8)
    sf = net.features(frames)
    assert sf.shape == (2, 8, 64 // stride, 64 // stride)
    net.where.reset_state()
    d = net.delta(torch.rand(3, 2, 2, 64, 64))
    assert d.shape == (3, 2, 8, 64 // stride, 64 // stride)
    t = net.template(sf, torch.tensor([[10.0, 10, 26, 26], [30, 30, 46, 46]]))
    assert t.shape == (2, 8, 3, 3)
    assert net.response(t, sf).shape == (2, 64 // stride, 64 // stride)


def test_snn_state_carries_between_calls():
    torch.manual_seed(0)
    net = M.HSN(M.HSNConfig(channels=4, width=8)).eval()
    ev = (torch.rand(6, 1, 2, 32, 32) < 0.2).float() * 3
    with torch.no_grad():
        net.where.reset_state()
        whole = net.delta(ev)
        net.where.reset_state()
        parts = torch.cat([net.delta(ev[:2]), net.delta(ev[2:])])
        net.where.reset_state()
        restarted = net.delta(ev[2:])
    torch.testing.assert_close(parts, whole)
    # The readout has memory: restarting from rest after two bins changes the output.
    assert not torch.allclose(restarted, whole[2:])


def test_gradient_step_reaches_every_part():
    torch.manual_seed(0)
    net = M.HSN(M.HSNConfig(channels=8, width=8))
    frames = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    boxes = torch.tensor([[4.0, 4, 16, 16], [10, 12, 22, 24], [16, 16, 28, 28]])
    sf = net.features(frames)
    tmpl = net.template(sf, boxes)
    net.where.reset_state()
    d = net.delta((torch.rand(4, 3, 2, 32, 32) < 0.3).float())
    loss = sum(M.tracking_loss(net.response(tmpl, sf + d[i]), boxes, net.stride) for i in range(4))
    loss.backward()
    lifs = [m for m in net.where.modules() if isinstance(m, M.hnn.LIF)]
    assert lifs and all(m.decay_logit.grad is not None and m.decay_logit.grad.abs().sum() > 0 for m in lifs)
    for name, p in net.named_parameters():
        assert p.grad is not None, name
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    before = [p.detach().clone() for p in net.parameters()]
    opt.step()
    assert any(not torch.equal(a, p) for a, p in zip(before, net.parameters()))


def test_xcorr_matches_direct_computation():
    torch.manual_seed(0)
    t = torch.randn(2, 3, 3, 3, dtype=torch.float64)
    f = torch.randn(2, 3, 5, 6, dtype=torch.float64)
    got = M.xcorr(t, f)
    padded = torch.nn.functional.pad(f, (1, 1, 1, 1))
    want = torch.zeros(2, 5, 6, dtype=torch.float64)
    for b in range(2):
        for i in range(5):
            for j in range(6):
                want[b, i, j] = (padded[b, :, i : i + 3, j : j + 3] * t[b]).sum()
    torch.testing.assert_close(got, want)
    with pytest.raises(ValueError, match="features"):
        M.xcorr(t, f[:1])


def test_template_and_locate_geometry():
    net = M.HSN(M.HSNConfig(channels=4, width=8))
    s = net.stride
    feats = torch.randn(1, 4, 8, 8)
    # A box centred on cell (row 2, col 5) samples exactly the 3 x 3 cells around it.
    cx, cy = 5 * s + 0.5, 2 * s + 0.5
    tmpl = net.template(feats, torch.tensor([[cx - 6, cy - 6, cx + 6, cy + 6]]))
    torch.testing.assert_close(tmpl[0], feats[0, :, 1:4, 4:7])
    resp = torch.full((1, 8, 8), -50.0)
    resp[0, 2, 5] = 10.0
    box = net.locate(resp, torch.tensor([[12.0, 10.0]]))
    torch.testing.assert_close(box, torch.tensor([[cx - 6, cy - 5, cx + 6, cy + 5]]))
    # Equal neighbours pull the estimate half-way between the cells.
    resp[0, 2, 6] = 10.0
    assert net.locate(resp, torch.tensor([[12.0, 10.0]]))[0, 0].item() == pytest.approx(
        cx - 6 + s / 2, abs=1e-4
    )


def test_iou_and_targets():
    a = torch.tensor([[0.0, 0, 10, 10]])
    assert M.box_iou(a, a).item() == pytest.approx(1.0)
    assert M.box_iou(a, torch.tensor([[5.0, 0, 15, 10]])).item() == pytest.approx(50 / 150)
    label, weight = M.response_targets(torch.tensor([[8.0, 8, 9, 9]]), (8, 8), 4)
    # Centre (8.5, 8.5) sits on cell (2, 2), whose neighbours are 4 px away: 5 positives.
    assert label.sum().item() == 5 and weight.sum().item() == pytest.approx(1.0)


def test_streaming_boxes_frame_rate_ann_holds():
    torch.manual_seed(0)
    net = M.HSN(M.HSNConfig(channels=4, width=8)).eval()
    B, n_frames, n = 2, 3, 4
    aps = torch.randint(0, 256, (B, n_frames, 32, 32), dtype=torch.uint8)
    events = torch.randint(0, 3, (B, (n_frames - 1) * n, 2, 32, 32), dtype=torch.uint8)
    frames = torch.randint(0, 256, (B, (n_frames - 1) * n, 32, 32), dtype=torch.uint8)
    box0 = torch.tensor([[4.0, 4, 16, 16], [8, 8, 20, 20]])
    out = E.streaming_boxes(net, aps, events, frames, box0, n)
    assert set(out) == set(E.METHODS) and all(v.shape == (B, 8, 4) for v in out.values())
    held = out["ann_frame_rate"]
    assert torch.equal(held[:, :n], held[:, :1].expand(B, n, 4))
    # The ideal ANN scores each frame on its own: equal to locating in that frame alone.
    with torch.no_grad():
        tmpl = net.template(net.features(aps[:, 0]), box0)
        direct = net.locate(net.response(tmpl, net.features(frames[:, 5])), box0[:, 2:] - box0[:, :2])
    torch.testing.assert_close(out["ann_ideal"][:, 5], direct)
    with pytest.raises(ValueError, match="bins_per_frame"):
        E.streaming_boxes(net, aps, events[:, :5], frames, box0, n)


def test_tiny_train_and_streaming_evaluation(tmp_path):
    from hnn_fast.networks.hsn.experiment import HSNExperiment, HSNTrainConfig, main
    from hnn_fast.train import train

    exp = HSNExperiment()
    cfg = HSNTrainConfig(
        max_steps=4,
        batch_size=4,
        sensor=32,
        duration_ms=120.0,
        train_recordings=2,
        eval_recordings=1,
        eval_speeds="1,8",
        channels=8,
        width=8,
        bench_iters=2,
        checkpoint_every=0,
    )
    result = train(exp, cfg, out_dir=tmp_path / "run", progress=False)
    assert result.status == "completed"
    ev = result.metrics["eval"]
    for m in E.METHODS:
        for s in ("1", "8"):
            assert 0.0 <= ev[f"miou_{m}_x{s}"] <= 1.0 and ev[f"cerr_{m}_x{s}"] >= 0
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    hsn = results["hsn"]
    assert hsn["speeds"] == [1.0, 8.0] and set(hsn["miou"]) == set(E.METHODS)
    assert hsn["cost"]["updates_per_s"]["snn_step_fused"] > 0
    assert hsn["cost"]["macs_per_update"]["ann_frame_rate"] < hsn["cost"]["macs_per_update"]["ann_ideal"]
    assert (tmp_path / "run" / "hsn.png").stat().st_size > 1000
    assert main([str(tmp_path)]) == 2  # not a run directory


def test_experiment_config_errors():
    from hnn_fast.networks.hsn.experiment import HSNTrainConfig
    from hnn_fast.train import ConfigError

    with pytest.raises(ConfigError, match="eval_speeds"):
        HSNTrainConfig(eval_speeds="1,fast")
    with pytest.raises(ConfigError, match="eval_speeds"):
        HSNTrainConfig(eval_speeds="0,2")
    with pytest.raises(ConfigError, match="bins_per_frame"):
        HSNTrainConfig(bins_per_frame=7)
    with pytest.raises(ConfigError, match="frame_hz"):
        HSNTrainConfig(frame_hz=30.0)
    with pytest.raises(ConfigError, match="duration_ms"):
        HSNTrainConfig(duration_ms=30.0)


def test_count_macs_dense_and_event_driven():
    conv = torch.nn.Conv2d(2, 3, 3, 1, 1, bias=False)
    x = torch.zeros(1, 2, 4, 4)
    x[0, 0, :2] = 1.0  # a quarter of the inputs non-zero
    dense, sparse = E.count_macs(conv, x)
    assert dense == 4 * 4 * 3 * 2 * 9 and sparse == pytest.approx(dense / 4)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"arch": "vgg"}, "arch"),
        ({"template_cells": 2}, "template_cells"),
        ({"snn_width": 1}, "snn_width"),
        ({"lif_decay": 1.5}, "lif_decay"),
    ],
)
def test_model_config_errors(kwargs, name):
    with pytest.raises(ValueError, match=name):
        M.HSNConfig(**kwargs)


def test_hsn_two_phase_training_under_torchrun(tmp_path):
    # Each phase trains one pathway, so every step leaves the other without gradients; DDP must be told.
    out = tmp_path / "hsn"
    proc = torchrun_train(
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
