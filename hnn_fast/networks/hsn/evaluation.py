"""The HSN's evaluation: streaming boxes and scores per method over recorded event bins, and the
cost of an update (MACs, dense and event-driven, and measured updates per second)."""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import Tensor, nn

from ... import ops
from .model import HSN, box_centres, box_iou, box_sizes


def count_macs(model: nn.Module, *inputs: Tensor) -> tuple[int, float]:
    """Multiply-accumulates of the convolutions in one forward pass: (dense, event-driven). The
    event-driven count weighs each convolution by the fraction of its inputs that are non-zero, the
    work of hardware that only processes incoming spikes or events (for an ANN on frames the two
    are nearly equal)."""
    dense, sparse = 0, 0.0

    def hook(m: nn.Conv2d, inp, out) -> None:
        nonlocal dense, sparse
        macs = out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        dense += macs
        sparse += macs * (inp[0] != 0).float().mean().item()

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
    return dense, sparse


METHODS = ("hsn", "ann_frame_rate", "ann_ideal", "snn_alone")


@torch.no_grad()
def streaming_boxes(
    net: HSN, aps: Tensor, events: Tensor, frames: Tensor, box0: Tensor, bins_per_frame: int
) -> dict[str, Tensor]:
    """Boxes [B, N, 4] at the end of each of the N event bins of recordings, per method.

    aps [B, F, H, W]: frames at the start of each interval (frame 0 also gives the template at box0
    [B, 4]); events [B, N, 2, H, W] with N = (F - 1) * bins_per_frame; frames [B, N, H, W]: a frame at
    the end of every bin, seen only by the ideal ANN. "ann_frame_rate" holds the box of the interval's
    frame until the next one; "hsn" uses SF(t) + HU[dDF]; "snn_alone" HU[dDF] without SF(t).
    """
    B, n_frames = aps.shape[:2]
    N = events.shape[1]
    if (n_frames - 1) * bins_per_frame != N:
        raise ValueError(
            f"streaming_boxes: {N} event bins for {n_frames} frames and bins_per_frame={bins_per_frame}"
        )
    size = box_sizes(box0)
    sf_frames = net.features(aps.flatten(0, 1)).unflatten(0, (B, n_frames))
    tmpl = net.template(sf_frames[:, 0], box0)
    out: dict[str, list[Tensor]] = {m: [] for m in METHODS}
    for k in range(n_frames - 1):
        sf = sf_frames[:, k]
        held = net.locate(net.response(tmpl, sf), size)
        net.where.reset_state()
        delta = net.delta(events[:, k * bins_per_frame : (k + 1) * bins_per_frame].transpose(0, 1))
        for d in delta:
            out["hsn"].append(net.locate(net.response(tmpl, sf + d), size))
            out["snn_alone"].append(net.locate(net.response(tmpl, d), size))
            out["ann_frame_rate"].append(held)
    ideal = net.features(frames.flatten(0, 1)).unflatten(0, (B, N))
    out["ann_ideal"] = [net.locate(net.response(tmpl, ideal[:, i]), size) for i in range(N)]
    return {m: torch.stack(v, 1) for m, v in out.items()}


def streaming_scores(net: HSN, rec: dict[str, Tensor], bins_per_frame: int) -> dict[str, tuple[float, float]]:
    """(mean IoU, mean centre error in pixels) per method over every bin of the recordings in rec
    (keys aps, events, frames, boxes [B, N, 4] at bin ends, frame_boxes [B, F, 4])."""
    boxes = streaming_boxes(
        net, rec["aps"], rec["events"], rec["frames"], rec["frame_boxes"][:, 0], bins_per_frame
    )
    gt = rec["boxes"].float()
    return {
        m: (box_iou(b, gt).mean().item(), (box_centres(b) - box_centres(gt)).norm(dim=-1).mean().item())
        for m, b in boxes.items()
    }


@torch.no_grad()
def measure_cost(net: HSN, events: Tensor, bins_per_frame: int, iters: int = 50) -> dict[str, Any]:
    """Cost per update at batch 1 on a recording's event bins [T, 2, H, W] (T >= 1; replayed when
    iters > T): MACs (dense, and event-driven for the SNN) including the correlation, and measured
    updates per second with the fused and the reference ops of the SNN step (one bin, state carried)
    and of the SNN over a frame interval's bins in one call (updates counted per bin), and of the
    ANN step (one frame). HSN's cost adds one ANN step per bins_per_frame SNN steps."""
    net = net.eval()
    T, _, H, W = events.shape
    events = events.float().unsqueeze(1)
    frame = torch.rand(1, H, W, generator=torch.Generator().manual_seed(0))
    feats = net.features(frame)
    C, h, w = feats.shape[1:]
    k = net.cfg.template_cells
    corr = h * w * C * k * k
    ann, _ = count_macs(net.what, frame.unsqueeze(1))
    net.where.reset_state()
    snn, snn_sparse = count_macs(net.where, events)
    snn_sparse /= T
    snn //= T
    hu, _ = count_macs(net.hu, torch.zeros(1, 1, C, h, w))
    macs = {
        "ann_step": ann + corr,
        "snn_step": snn + hu + corr,
        "ann_ideal": ann + corr,
        "ann_frame_rate": (ann + corr) / bins_per_frame,
        "hsn": snn + hu + corr + ann / bins_per_frame,
    }
    event_macs = {"snn_step": snn_sparse + hu + corr, "hsn": snn_sparse + hu + corr + ann / bins_per_frame}
    size = torch.tensor([[H / 4, W / 4]])
    tmpl = net.template(feats, torch.tensor([[3 * H / 8, 3 * W / 8, 5 * H / 8, 5 * W / 8]]))

    n = bins_per_frame

    def snn_step(i: int) -> None:
        net.locate(net.response(tmpl, feats + net.delta(events[i % T : i % T + 1])[0]), size)

    def snn_interval(i: int) -> None:
        # A frame interval's bins in one fused call (time loop inside the kernels), as a pipeline
        # that may wait for a frame interval's events would run it.
        j = (i * n) % max(T - n + 1, 1)
        net.where.reset_state()
        deltas = net.delta(events[j : j + n])
        net.locate(
            net.response(tmpl.expand(len(deltas), -1, -1, -1), feats + deltas[:, 0]),
            size.expand(len(deltas), -1),
        )

    def ann_step(i: int) -> None:
        net.locate(net.response(tmpl, net.features(frame)), size)

    def rate(step, updates: int) -> float:
        step(0)
        start = time.perf_counter()
        for i in range(iters):
            step(i)
        return iters * updates / (time.perf_counter() - start)

    previous = ops.get_backend()
    ups: dict[str, float] = {}
    try:
        for backend in ("fused", "reference"):
            ops.set_backend(backend)
            net.where.reset_state()
            ups[f"snn_step_{backend}"] = rate(snn_step, 1)
            ups[f"snn_interval_{backend}"] = rate(snn_interval, min(n, T))
    finally:
        ops.set_backend(previous)
    ups["ann_step"] = rate(ann_step, 1)
    ups["hsn_fused"] = 1.0 / (1.0 / ups["snn_step_fused"] + 1.0 / (ups["ann_step"] * n))
    return {
        "macs_per_update": macs,
        "event_driven_macs_per_update": event_macs,
        "updates_per_s": ups,
        "event_density": float((events != 0).float().mean()),
        "threads": torch.get_num_threads(),
    }
