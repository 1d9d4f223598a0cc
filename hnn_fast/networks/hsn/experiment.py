"""hsn: the hybrid sensing network tracking one object on synthetic DAVIS recordings
(hnn_fast.networks.hsn.data), trained in the paper's two phases and scored by streaming evaluation.

A training sample is one frame interval of a recording: the template frame (the recording's first APS
frame and the target's box), the APS frame at the interval's start, the event bins up to the next
frame, and a noisy frame and the target's box at the end of each bin. Phase 1 trains the ANN tracker
on the frames (Eq. 8-10, the feature regulariser L_R included); phase 2 freezes it and trains the SNN
and the HU with the feature-prediction loss (Eq. 13) plus the tracking loss on SF(t) + HU[dDF];
`schedule=end_to_end` trains everything at once with all losses, as the authors' code does.

Evaluation streams whole recordings at each speed multiplier and scores, at the end of every event
bin, HSN, the frame-rate ANN holding its last output ("real ANN"), the ANN run on a frame at every bin
("ideal ANN") and the SNN pathway alone (HU[dDF] without SF(t)): mean IoU and centre error per speed.
After training, `after_training` measures cost (MACs and updates per second per step, fused and
reference ops), adds it with the per-speed table as the "hsn" section of the run's results.json and
draws hsn.png; `python -m hnn_fast.networks.hsn.experiment RUN_DIR` does the same for a finished run.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

from ...data.events import bin_events
from ...train.checkpoint import load_checkpoint
from ...train.config import ConfigError, TrainConfig, config_from_dict, param
from ...train.distributed import unwrap
from ...train.loop import checkpoint_file
from ...train.registry import Experiment, StepContext
from .. import _figures
from . import evaluation
from . import model as M
from .data import DavisSynthConfig, aps_frames, generate

METHODS = evaluation.METHODS


@dataclass
class HSNTrainConfig(TrainConfig):
    max_steps: int = param(1200, "optimiser steps to train; 0 trains for `epochs`", min=0)
    batch_size: int = param(16, "global batch size", min=1)
    lr: float = param(2e-3, "peak learning rate", gt=0)
    grad_clip: float = param(1.0, "clip the global gradient norm to this; 0 disables", min=0)
    eval_every: int = param(0, "epochs between evaluations; 0 evaluates only at the end", min=0)
    sensor: int = param(64, "sensor height and width in pixels", min=32)
    frame_hz: float = param(25.0, "APS frame rate (the scene is rendered at 1 kHz)", gt=0, max=500)
    bins_per_frame: int = param(10, "event bins (SNN updates) per frame interval", min=1)
    duration_ms: float = param(400.0, "length of each recording", gt=0)
    max_speed: float = param(
        8.0, "training recordings draw their speed multiplier from [1, max_speed]", min=1
    )
    eval_speeds: str = param(
        "1,2,4,8", "comma-separated speed multipliers scored by the streaming evaluation"
    )
    train_recordings: int = param(
        64, "synthetic recordings for training (one sample per frame interval)", min=1
    )
    eval_recordings: int = param(6, "recordings per speed for the streaming evaluation", min=1)
    data_seed: int = param(
        0,
        "seed of the synthetic recordings (apart from `seed`, so that runs with "
        "different seeds see the same data)",
        min=0,
    )
    arch: str = param(
        "small",
        "feature extractor of both pathways: small (stride 4) or resnet (the "
        "authors' two-stage ResNet, stride 8)",
        choices=M.ARCHS,
    )
    channels: int = param(32, "feature channels of both pathways", min=1)
    width: int = param(32, "channels of the small architecture's ANN convolutions", min=2)
    snn_width: int = param(
        16,
        "channels of the small architecture's SNN convolutions (same layers, kernels "
        "and strides as the ANN); 0: as wide as the ANN",
        min=0,
    )
    schedule: str = param(
        "two_phase",
        "two_phase: ANN first, then SNN + HU with the ANN frozen (the paper); "
        "end_to_end: everything at once (the authors' code)",
        choices=("two_phase", "end_to_end"),
    )
    phase1_fraction: float = param(0.5, "share of the steps spent in phase 1 (two_phase)", gt=0, max=1)
    feature_weight: float = param(1.0, "weight of the feature-prediction loss L_F (Eq. 13)", min=0)
    reg_weight: float = param(0.01, "weight of the feature regulariser L_R", min=0)
    bench_iters: int = param(50, "timed updates per cost measurement", min=1)

    def __post_init__(self) -> None:
        super().__post_init__()
        _speeds(self)
        if self.duration_ms * self.frame_hz < 1000.0:
            raise ConfigError(
                f"config duration_ms={self.duration_ms}: shorter than one frame interval "
                f"at frame_hz={self.frame_hz}"
            )
        renders_per_frame = 1000.0 / self.frame_hz
        if (
            abs(renders_per_frame - round(renders_per_frame)) > 1e-9
            or round(renders_per_frame) % self.bins_per_frame
        ):
            raise ConfigError(
                f"config frame_hz={self.frame_hz}, bins_per_frame={self.bins_per_frame}: a frame "
                f"interval must be a whole number of 1 ms renders, divisible into the bins"
            )


def _speeds(cfg: HSNTrainConfig) -> list[float]:
    try:
        speeds = [float(s) for s in cfg.eval_speeds.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(
            f"config eval_speeds={cfg.eval_speeds!r}: must be comma-separated numbers"
        ) from None
    if not speeds or min(speeds) <= 0:
        raise ConfigError(f"config eval_speeds={cfg.eval_speeds!r}: need at least one speed, each > 0")
    return speeds


def _synth_config(cfg: HSNTrainConfig, speed: float) -> DavisSynthConfig:
    return DavisSynthConfig(
        height=cfg.sensor, width=cfg.sensor, frame_hz=cfg.frame_hz, duration_ms=cfg.duration_ms, speed=speed
    )


def _recording(cfg: HSNTrainConfig, speed: float, seed: int) -> dict[str, Tensor]:
    """One recording cut at the bin times: APS frames [F], event bins [(F-1) * n, 2, H, W], a noisy
    frame [(F-1) * n, H, W] and the target box at the end of every bin, the target box at each frame."""
    seq = generate(_synth_config(cfg, speed), seed, keep_intensity=True)
    sc = seq.config
    n = cfg.bins_per_frame
    F_ = len(seq.aps_index)
    rpb = sc.renders_per_frame // n
    ends = np.arange(1, (F_ - 1) * n + 1) * rpb
    t0, t1 = int(seq.render_t_us[0]), int(seq.render_t_us[ends[-1]])
    events = bin_events(seq.events, (F_ - 1) * n, sc.height, sc.width, t0, t1 + 1)
    rng = np.random.default_rng([seed, 1])
    frames = aps_frames(seq.intensity[ends], sc.aps_read_noise, rng)
    return {
        "aps": torch.from_numpy(seq.aps),
        "events": events.clamp(max=255).to(torch.uint8),
        "frames": torch.from_numpy(frames),
        "boxes": torch.from_numpy(seq.boxes[ends, 0]).float(),
        "frame_boxes": torch.from_numpy(seq.boxes[seq.aps_index, 0]).float(),
    }


class _Samples(Dataset):
    def __init__(self, items: list[dict[str, Tensor]]):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return self.items[i]


def _clips(rec: dict[str, Tensor], n: int) -> list[dict[str, Tensor]]:
    """One training sample per frame interval of a recording."""
    return [
        {
            "template_frame": rec["aps"][0],
            "template_box": rec["frame_boxes"][0],
            "frame": rec["aps"][k],
            "frame_box": rec["frame_boxes"][k],
            "events": rec["events"][k * n : (k + 1) * n],
            "frames": rec["frames"][k * n : (k + 1) * n],
            "boxes": rec["boxes"][k * n : (k + 1) * n],
        }
        for k in range(len(rec["aps"]) - 1)
    ]


class _TrainHSN(M.HSN):
    """HSN plus the optimiser-step count that picks the training phase; kept in the state dict so a
    resumed run continues in the right phase."""

    def __init__(self, cfg: M.HSNConfig):
        super().__init__(cfg)
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))

    def forward(self, batch: dict[str, Tensor], train_ann: bool, train_snn: bool) -> dict[str, Tensor]:
        B, n = batch["events"].shape[:2]
        later = batch["frames"].transpose(0, 1).reshape(n * B, *batch["frames"].shape[2:])
        with torch.set_grad_enabled(train_ann and torch.is_grad_enabled()):
            sf_all = self.features(torch.cat([batch["template_frame"], batch["frame"], later]))
        template, sf, later = sf_all[:B], sf_all[B : 2 * B], sf_all[2 * B :]
        template = self.template(template, batch["template_box"])
        templates = template.unsqueeze(0).expand(n, *template.shape).flatten(0, 1)
        # Every use of a parameter happens here, inside forward, as DistributedDataParallel requires.
        out = {
            "sf": sf,
            "later": later.reshape(n, B, *sf.shape[1:]),
            "later_response": self.response(templates, later),
        }
        if train_ann:
            out["frame_response"] = self.response(template, sf)
        if train_snn:
            self.where.reset_state()
            out["delta"] = self.delta(batch["events"].transpose(0, 1))
            out["hsn_response"] = self.response(templates, (sf.unsqueeze(0) + out["delta"]).flatten(0, 1))
        return out


class HSNExperiment(Experiment):
    name = "hsn"
    description = "hybrid sensing network: ANN + SNN tracker on synthetic DAVIS recordings"
    config_class = HSNTrainConfig
    # About 2.5 minutes of one CPU core: ~30 s of data generation, ~2 min of training, the evaluation.
    quick = {
        "max_steps": 360,
        "phase1_fraction": 0.4,
        "train_recordings": 40,
        "eval_recordings": 6,
        "bench_iters": 30,
    }

    def build_model(self, cfg: HSNTrainConfig) -> nn.Module:
        return _TrainHSN(
            M.HSNConfig(arch=cfg.arch, channels=cfg.channels, width=cfg.width, snn_width=cfg.snn_width)
        )

    def build_datasets(self, cfg: HSNTrainConfig) -> tuple[Dataset, Dataset]:
        base = cfg.data_seed * 1_000_003
        speeds = np.random.default_rng(cfg.data_seed).uniform(1.0, cfg.max_speed, cfg.train_recordings)
        train = [
            c
            for i, s in enumerate(speeds)
            for c in _clips(_recording(cfg, float(s), base + i), cfg.bins_per_frame)
        ]
        evals = []
        for j in range(cfg.eval_recordings):
            # The same scene at every speed, so the speeds differ only in how fast things move.
            recs = [_recording(cfg, s, base + 500_000 + j) for s in _speeds(cfg)]
            evals.append({k: torch.stack([r[k] for r in recs]) for k in recs[0]})
        return _Samples(train), _Samples(evals)

    def _total_steps(self, cfg: HSNTrainConfig) -> int:
        if cfg.max_steps:
            return cfg.max_steps
        per_recording = round(cfg.duration_ms * cfg.frame_hz / 1000.0)
        return cfg.epochs * max(cfg.train_recordings * per_recording // cfg.batch_size, 1)

    def find_unused_parameters(self, cfg: HSNTrainConfig) -> bool:
        return cfg.schedule == "two_phase"  # phase 1 leaves the SNN without gradients, phase 2 the ANN

    def _phase1_steps(self, cfg: HSNTrainConfig) -> int:
        return round(cfg.phase1_fraction * self._total_steps(cfg)) if cfg.schedule == "two_phase" else 0

    def build_scheduler(
        self, optimizer: torch.optim.Optimizer, cfg: HSNTrainConfig, total_steps: int
    ) -> torch.optim.lr_scheduler.LRScheduler:
        """Cosine restarted at phase 2: the SNN starts from scratch there and needs a full learning rate."""
        p1 = self._phase1_steps(cfg)
        if cfg.scheduler != "cosine" or p1 == 0:
            return super().build_scheduler(optimizer, cfg, total_steps)

        def factor(step: int) -> float:
            pos, length = (step, p1) if step < p1 else (step - p1, max(total_steps - p1, 1))
            return 0.5 * (1.0 + math.cos(math.pi * pos / length))

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

    def train_step(self, model: nn.Module, batch: dict[str, Tensor], ctx: StepContext):
        cfg: HSNTrainConfig = ctx.cfg
        net = unwrap(model)
        phase1 = int(net.steps_done) < self._phase1_steps(cfg)
        train_ann = cfg.schedule == "end_to_end" or phase1
        train_snn = not phase1
        if ctx.training:
            net.steps_done += 1
            # Phase 2 freezes the ANN, batch-norm statistics included.
            net.what.train(train_ann)
        out = model(batch, train_ann, train_snn)
        stride = net.stride
        metrics: dict[str, Any] = {"phase": 1.0 if phase1 else 2.0}
        loss = torch.zeros((), device=out["sf"].device)
        later_resp = out["later_response"]
        boxes_tm = batch["boxes"].transpose(0, 1).flatten(0, 1)
        if train_ann:
            l_track = (
                M.tracking_loss(out["frame_response"], batch["frame_box"], stride)
                + M.tracking_loss(later_resp, boxes_tm, stride)
            ) / 2
            l_reg = out["sf"].pow(2).mean()
            loss = loss + l_track + cfg.reg_weight * l_reg
            metrics["loss_ann"] = l_track.detach()
        if train_snn:
            # L_F teaches the SNN and HU to predict the ANN, never the ANN to be predictable.
            target = (out["later"] - out["sf"].unsqueeze(0)).detach()
            l_feat = F.mse_loss(out["delta"], target)
            l_hsn = M.tracking_loss(out["hsn_response"], boxes_tm, stride)
            loss = loss + l_hsn + cfg.feature_weight * l_feat
            metrics["loss_hsn"] = l_hsn.detach()
            metrics["loss_feature"] = l_feat.detach()
            with torch.no_grad():
                size = M.box_sizes(boxes_tm)
                metrics["iou_hsn"] = M.box_iou(net.locate(out["hsn_response"], size), boxes_tm).mean()
        with torch.no_grad():
            metrics["iou_ideal"] = M.box_iou(net.locate(later_resp, M.box_sizes(boxes_tm)), boxes_tm).mean()
        return loss, metrics

    def eval_step(self, model: nn.Module, batch: dict[str, Tensor], ctx: StepContext) -> dict[str, Any]:
        net = unwrap(model)
        metrics: dict[str, Any] = {}
        for i, speed in enumerate(_speeds(ctx.cfg)):
            rec = {k: v[:, i] for k, v in batch.items()}
            scores = evaluation.streaming_scores(net, rec, ctx.cfg.bins_per_frame)
            for method, (iou, err) in scores.items():
                metrics[f"miou_{method}_x{speed:g}"] = iou
                metrics[f"cerr_{method}_x{speed:g}"] = err
        for method in METHODS:
            metrics[f"miou_{method}"] = sum(metrics[f"miou_{method}_x{s:g}"] for s in _speeds(ctx.cfg)) / len(
                _speeds(ctx.cfg)
            )
        return metrics

    def after_training(self, model: nn.Module, cfg: HSNTrainConfig, out_dir: Path) -> None:
        print(_summary_line(_finish(model, cfg, out_dir)))


def _finish(model: nn.Module, cfg: HSNTrainConfig, out_dir: Path) -> dict[str, Any]:
    """Cost measurements and the Fig. 2c-style plot of a finished run, next to its results.json."""
    results = json.loads((out_dir / "results.json").read_text())
    net = model.cpu().eval()
    # Cost on real event bins: a held-out recording at the fastest evaluated speed.
    sample = _recording(cfg, max(_speeds(cfg)), cfg.data_seed * 1_000_003 + 900_000)
    cost = evaluation.measure_cost(net, sample["events"], cfg.bins_per_frame, cfg.bench_iters)
    ev = results.get("eval", {})
    summary = {
        "speeds": _speeds(cfg),
        "miou": {m: [ev.get(f"miou_{m}_x{s:g}") for s in _speeds(cfg)] for m in METHODS},
        "centre_error_px": {m: [ev.get(f"cerr_{m}_x{s:g}") for s in _speeds(cfg)] for m in METHODS},
        "cost": cost,
        "setup": {
            "sensor": cfg.sensor,
            "frame_hz": cfg.frame_hz,
            "bins_per_frame": cfg.bins_per_frame,
            "bin_ms": 1000.0 / cfg.frame_hz / cfg.bins_per_frame,
            "arch": cfg.arch,
            "schedule": cfg.schedule,
            "steps": results.get("step"),
            "train_s": results.get("elapsed_s"),
            "torch_threads": torch.get_num_threads(),
        },
    }
    results["hsn"] = summary
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(summary, out_dir / "hsn.png")
    return summary


def plot(summary: dict[str, Any], path: Path) -> None:
    """Streaming mIoU against the speed multiplier, with the cost per update beside it (Fig. 2c)."""
    plt = _figures.pyplot()

    speeds = summary["speeds"]
    labels = {
        "hsn": "HSN",
        "ann_frame_rate": "real ANN (frame rate, held)",
        "ann_ideal": "ideal ANN (every bin)",
        "snn_alone": "SNN pathway alone",
    }
    fig, (ax, ax_macs, ax_ups) = plt.subplots(1, 3, figsize=(13, 4), gridspec_kw={"width_ratios": [2, 1, 1]})
    x = np.arange(len(speeds))
    for i, m in enumerate(METHODS):
        ys = [np.nan if v is None else v for v in summary["miou"][m]]
        ax.plot(x, ys, "o-", color=f"C{i}", label=labels[m])
    ax.set_xticks(x, [f"{s:g}x" for s in speeds])
    ax.set_xlabel("object speed multiplier")
    ax.set_ylabel("streaming mIoU")
    ax.set_ylim(0, 1)
    ax.legend(loc="lower left", fontsize=8)
    setup = summary["setup"]
    ax.set_title(f"{setup['frame_hz']:g} Hz frames, {setup['bin_ms']:g} ms event bins", fontsize=10)

    cost = summary["cost"]
    macs, event = cost["macs_per_update"], cost["event_driven_macs_per_update"]
    bars = [
        ("ideal ANN", macs["ann_ideal"], "C2"),
        ("real ANN", macs["ann_frame_rate"], "C1"),
        ("HSN dense", macs["hsn"], "C0"),
        ("HSN event-driven", event["hsn"], "C0"),
    ]
    ax_macs.bar(range(4), [b[1] / 1e6 for b in bars], color=[b[2] for b in bars])
    ax_macs.patches[-1].set_hatch("//")
    ax_macs.set_xticks(range(4), [b[0] for b in bars], rotation=30, ha="right", fontsize=8)
    ax_macs.set_ylabel("MMAC per update (per event bin)")
    ups = cost["updates_per_s"]
    names = [
        "ann_step",
        "snn_step_fused",
        "snn_step_reference",
        "snn_interval_fused",
        "snn_interval_reference",
        "hsn_fused",
    ]
    ax_ups.bar(range(len(names)), [ups[k] for k in names], color=["C2", "C0", "C7", "C0", "C7", "C0"])
    ax_ups.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    ax_ups.set_ylabel(f"updates/s (CPU, batch 1, {cost['threads']} thread(s))")
    _figures.save(fig, path)


def finish_run(out_dir: Path, model: nn.Module | None = None) -> dict[str, Any]:
    """Cost and plot of a finished run (its config and, without model, its weights from the checkpoint)."""
    if not (out_dir / "results.json").is_file():
        raise FileNotFoundError(f"{out_dir / 'results.json'} not found; is {out_dir} a finished hsn run?")
    ckpt = load_checkpoint(checkpoint_file(out_dir))
    cfg = config_from_dict(HSNTrainConfig, ckpt["config"], source=f"checkpoint in {out_dir}")
    if model is None:
        model = HSNExperiment().build_model(cfg)
        model.load_state_dict(ckpt["model"])
    return _finish(model, cfg, out_dir)


def _summary_line(summary: dict[str, Any]) -> str:
    rows = [f"hsn streaming mIoU at speeds {', '.join(f'{s:g}x' for s in summary['speeds'])}:"]
    for m in METHODS:
        rows.append(
            f"  {m:15s} " + " ".join("  -  " if v is None else f"{v:.3f}" for v in summary["miou"][m])
        )
    ups = summary["cost"]["updates_per_s"]
    macs = summary["cost"]["macs_per_update"]
    rows.append(
        f"  MMAC/update: ideal ANN {macs['ann_ideal'] / 1e6:.2f}, HSN {macs['hsn'] / 1e6:.2f} "
        f"(event-driven {summary['cost']['event_driven_macs_per_update']['hsn'] / 1e6:.2f}); updates/s: "
        f"ANN {ups['ann_step']:.0f}, SNN step {ups['snn_step_fused']:.0f}, HSN {ups['hsn_fused']:.0f}"
    )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """python -m hnn_fast.networks.hsn.experiment RUN_DIR: (re)measures cost and redraws the plot."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m hnn_fast.networks.hsn.experiment RUN_DIR", file=sys.stderr)
        return 2
    try:
        summary = finish_run(Path(args[0]))
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(_summary_line(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
