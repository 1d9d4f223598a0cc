"""Hybrid sensing network (HSN, Fig. 2a of the paper): a "what" ANN on APS frames, a "where" SNN of
the same geometry on binned DVS events, a learnable hybrid unit (HU) that carries the SNN's feature
change into the ANN's feature space, and a SiamFC correlation head whose template is cut from the
first frame's features.

Between two frames the predicted feature is SF(t + dt) = SF(t) + HU[dDF(dt)]: SF(t) the ANN features
of the last frame, dDF(dt) the SNN readout membrane after the event bins since that frame. The SNN
restarts from rest at each frame, so its readout is the change since then; its LIF layers have a
learnable per-channel decay (the authors' code fixes it at 0, which leaves the SNN no memory between
bins) and the readout is a non-spiking leaky integrator.

Boxes are (x0, y0, x1, y1) in pixels where pixel i spans [i, i + 1). A feature cell j of a network of
total stride S sees pixels centred at j * S + 0.5 (every layer pads "same").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ... import nn as hnn

ARCHS = ("small", "resnet")


@dataclass(frozen=True)
class HSNConfig:
    """arch: "small" (three convs, stride 4, the CPU default) or "resnet" (the authors' two-stage
    ResNet: 7x7 stride-2 stem to 64 channels, max-pool, bottlenecks to 256 and 512, stride 8).
    channels: feature channels of both pathways' output. width: the small ANN's convolution
    channels; snn_width the small SNN's (0: as wide as the ANN). The SNN keeps the ANN's layers,
    kernels and strides, so its features line up cell for cell; it may be narrower because its
    readout only has to carry the change, not the whole appearance."""

    arch: str = "small"
    channels: int = 32
    width: int = 32
    snn_width: int = 16
    template_cells: int = 3
    lif_decay: float = 0.5
    lif_threshold: float = 0.5
    readout_decay: float = 0.9

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        if self.channels < 1 or self.width < 2 or self.snn_width < 0 or self.snn_width == 1:
            raise ValueError(
                f"channels must be >= 1, width >= 2 and snn_width 0 or >= 2, got "
                f"{self.channels}, {self.width}, {self.snn_width}"
            )
        if self.template_cells < 1 or self.template_cells % 2 == 0:
            raise ValueError(f"template_cells must be odd and >= 1, got {self.template_cells}")
        for name in ("lif_decay", "readout_decay"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.lif_threshold <= 0:
            raise ValueError(f"lif_threshold must be > 0, got {self.lif_threshold}")

    @property
    def stride(self) -> int:
        return 4 if self.arch == "small" else 8


def _layers(cfg: HSNConfig, width: int) -> list[tuple]:
    """The shared geometry: ("conv", out, kernel, stride), ("pool", kernel, stride) or
    ("bottleneck", mid, out, stride); a final 1x1 projection to cfg.channels follows."""
    if cfg.arch == "small":
        w = width
        return [("conv", w // 2, 5, 2), ("conv", w, 3, 2), ("conv", w, 3, 1)]
    return [("conv", 64, 7, 2), ("pool", 3, 2), ("bottleneck", 64, 256, 1), ("bottleneck", 128, 512, 2)]


class _Bottleneck(nn.Module):
    def __init__(self, cin: int, mid: int, cout: int, stride: int, act):
        super().__init__()
        self.body = nn.ModuleList(
            [
                nn.Conv2d(cin, mid, 1, bias=False),
                nn.BatchNorm2d(mid),
                act(mid),
                nn.Conv2d(mid, mid, 3, stride, 1, bias=False),
                nn.BatchNorm2d(mid),
                act(mid),
                nn.Conv2d(mid, cout, 1, bias=False),
                nn.BatchNorm2d(cout),
            ]
        )
        self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.out = act(cout)


class WhatNet(nn.Module):
    """The ANN "what" pathway: a fully convolutional feature extractor on one APS frame [B, 1, H, W]
    with intensities in [0, 1]; returns SF [B, C, H/S, W/S]."""

    def __init__(self, cfg: HSNConfig):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 1
        for spec in _layers(cfg, cfg.width):
            if spec[0] == "conv":
                _, cout, k, s = spec
                layers += [nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
                cin = cout
            elif spec[0] == "pool":
                layers.append(nn.MaxPool2d(spec[1], spec[2], spec[1] // 2))
            else:
                _, mid, cout, s = spec
                layers.append(_Bottleneck(cin, mid, cout, s, lambda c: nn.ReLU()))
                cin = cout
        self.body = nn.ModuleList(layers)
        self.proj = nn.Conv2d(cin, cfg.channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.body:
            if isinstance(layer, _Bottleneck):
                y = x
                for sub in layer.body:
                    y = sub(y)
                x = layer.out(y + layer.short(x))
            else:
                x = layer(x)
        return self.proj(x)


class WhereNet(nn.Module):
    """The SNN "where" pathway, the same geometry as WhatNet: conv + BN + fused LIF (learnable
    per-channel decay and threshold, rectangle surrogate) per layer, then a 1x1 projection read out by
    a non-spiking leaky integrator. Input: event counts [T, B, 2, H, W]; output: the readout membrane
    dDF [T, B, C, H/S, W/S] after each bin. State is carried across calls until reset_state()."""

    def __init__(self, cfg: HSNConfig):
        super().__init__()

        def lif(c: int) -> hnn.LIF:
            return hnn.LIF(
                cfg.lif_decay,
                cfg.lif_threshold,
                param_shape=(c, 1, 1),
                learn_decay=True,
                learn_threshold=True,
                surrogate="rectangle",
                stateful=True,
            )

        layers: list[nn.Module] = []
        cin = 2
        for spec in _layers(cfg, cfg.snn_width or cfg.width):
            if spec[0] == "conv":
                _, cout, k, s = spec
                layers += [nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout), lif(cout)]
                cin = cout
            elif spec[0] == "pool":
                layers.append(nn.MaxPool2d(spec[1], spec[2], spec[1] // 2))
            else:
                _, mid, cout, s = spec
                layers.append(_Bottleneck(cin, mid, cout, s, lif))
                cin = cout
        self.body = nn.ModuleList(layers)
        self.proj = nn.Conv2d(cin, cfg.channels, 1)
        self.readout = hnn.LeakyIntegrator(
            cfg.readout_decay, param_shape=(cfg.channels, 1, 1), learn_decay=True, stateful=True
        )

    def reset_state(self) -> None:
        for m in self.modules():
            if isinstance(m, (hnn.LIF, hnn.LeakyIntegrator)):
                m.reset_state()

    def forward(self, events: Tensor) -> Tensor:
        x = events
        for layer in self.body:
            x = self._run_layer(layer, x)
        return self.readout(hnn.time_distributed(self.proj, x))

    def _run_layer(self, layer: nn.Module, x: Tensor) -> Tensor:
        if isinstance(layer, hnn.LIF):
            return layer(x)
        if isinstance(layer, _Bottleneck):
            y = x
            for sub in layer.body:
                y = self._run_layer(sub, y)
            return layer.out(y + hnn.time_distributed(layer.short, x))
        return hnn.time_distributed(layer, x)


class DeltaHU(nn.Module):
    """The learnable S2A hybrid unit: the SNN's membrane readout (already a leaky window over the
    event bins) mapped into the ANN's feature space by a 1x1 convolution. Started small so that an
    untrained HSN behaves like the frame-rate ANN instead of adding noise to SF(t)."""

    def __init__(self, channels: int):
        super().__init__()
        self.map = nn.Conv2d(channels, channels, 1)
        with torch.no_grad():
            self.map.weight.mul_(0.1)
            self.map.bias.zero_()

    def forward(self, delta: Tensor) -> Tensor:
        return self.map(delta.reshape(-1, *delta.shape[-3:])).reshape(delta.shape)


def xcorr(template: Tensor, features: Tensor) -> Tensor:
    """Per-sample cross-correlation (SiamFC): template [B, C, k, k] slid over features [B, C, H, W]
    with zero padding k // 2 -> [B, H, W], the sum over channels and the window."""
    B, C, k, _ = template.shape
    if features.shape[:2] != (B, C):
        raise ValueError(
            f"xcorr: features {tuple(features.shape)} do not match template {tuple(template.shape)}"
        )
    out = F.conv2d(features.reshape(1, B * C, *features.shape[2:]), template, padding=k // 2, groups=B)
    return out.reshape(B, *out.shape[2:])


class CorrelationHead(nn.Module):
    """Response logits = scale * mean-normalised xcorr + bias (SiamFC's adjust layer)."""

    def __init__(self, channels: int, cells: int):
        super().__init__()
        self.norm = float(channels * cells * cells)
        self.scale = nn.Parameter(torch.tensor(10.0))
        # Almost every cell of a response map is background: start from a low prior for "target here".
        self.bias = nn.Parameter(torch.tensor(-2.0))

    def forward(self, template: Tensor, features: Tensor) -> Tensor:
        return self.scale * xcorr(template, features) / self.norm + self.bias


class HSN(nn.Module):
    """The two pathways, the HU and the head; the tracking procedures are streaming_boxes (inference)
    and the hsn experiment's train_step (training)."""

    def __init__(self, cfg: HSNConfig | None = None):
        super().__init__()
        self.cfg = cfg or HSNConfig()
        self.what = WhatNet(self.cfg)
        self.where = WhereNet(self.cfg)
        self.hu = DeltaHU(self.cfg.channels)
        self.head = CorrelationHead(self.cfg.channels, self.cfg.template_cells)

    @property
    def stride(self) -> int:
        return self.cfg.stride

    def features(self, frames: Tensor) -> Tensor:
        """SF of frames [B, H, W] (uint8 or [0, 1] floats) -> [B, C, h, w]."""
        x = frames.float() / 255.0 if frames.dtype == torch.uint8 else frames.float()
        return self.what(x.unsqueeze(1))

    def delta(self, events: Tensor) -> Tensor:
        """HU[dDF] after each bin of events [T, B, 2, H, W] (counts), continuing the SNN's state."""
        return self.hu(self.where(events.float()))

    def template(self, features: Tensor, boxes: Tensor) -> Tensor:
        """The k x k feature cells around each box centre, bilinearly sampled -> [B, C, k, k]."""
        _B, _C, h, w = features.shape
        k = self.cfg.template_cells
        cx, cy = box_centres(boxes).unbind(-1)
        u = (cx - 0.5) / self.stride
        v = (cy - 0.5) / self.stride
        offs = torch.arange(k, device=features.device, dtype=features.dtype) - k // 2
        gx = (u[:, None, None] + offs[None, None, :]) / max(w - 1, 1) * 2 - 1
        gy = (v[:, None, None] + offs[None, :, None]) / max(h - 1, 1) * 2 - 1
        grid = torch.stack(torch.broadcast_tensors(gx, gy), dim=-1)
        return F.grid_sample(features, grid, mode="bilinear", padding_mode="zeros", align_corners=True)

    def response(self, template: Tensor, features: Tensor) -> Tensor:
        return self.head(template, features)

    def locate(self, response: Tensor, size: Tensor) -> Tensor:
        """Boxes [B, 4] of the given sizes [B, 2] centred on each response's peak, refined to a
        sub-cell position by a soft-argmax over the 3 x 3 cells around it."""
        B, _h, w = response.shape
        flat = response.reshape(B, -1).argmax(1)
        py, px = flat // w, flat % w
        padded = F.pad(response, (1, 1, 1, 1), value=float("-inf"))
        idx = torch.arange(B, device=response.device)
        offs = torch.arange(3, device=response.device)
        patch = padded[
            idx[:, None, None],
            (py[:, None, None] + offs[None, :, None]),
            (px[:, None, None] + offs[None, None, :]),
        ]
        weights = torch.softmax(patch.reshape(B, 9).float(), 1).reshape(B, 3, 3)
        d = (offs - 1).to(weights.dtype)
        fx = px.to(weights.dtype) + (weights.sum(1) * d).sum(1)
        fy = py.to(weights.dtype) + (weights.sum(2) * d).sum(1)
        centre = torch.stack([fx, fy], -1) * self.stride + 0.5
        return torch.cat([centre - size / 2, centre + size / 2], -1)


def box_centres(boxes: Tensor) -> Tensor:
    return (boxes[..., :2] + boxes[..., 2:]) / 2


def box_sizes(boxes: Tensor) -> Tensor:
    return boxes[..., 2:] - boxes[..., :2]


def box_iou(a: Tensor, b: Tensor) -> Tensor:
    lo = torch.maximum(a[..., :2], b[..., :2])
    hi = torch.minimum(a[..., 2:], b[..., 2:])
    inter = (hi - lo).clamp(min=0).prod(-1)
    union = box_sizes(a).prod(-1) + box_sizes(b).prod(-1) - inter
    return inter / union.clamp(min=1e-12)


def response_targets(boxes: Tensor, shape: Sequence[int], stride: int) -> tuple[Tensor, Tensor]:
    """Per-cell (label, weight) for boxes [..., 4] on a [h, w] response: label 1 within one cell of
    the box centre, 0 beyond two cells, ignored (weight 0) in between, as in the authors' code;
    positives weigh 10 and negatives 1 (Eq. 10), weights normalised to sum 1 per map (Eq. 9)."""
    h, w = shape
    ys = torch.arange(h, device=boxes.device, dtype=boxes.dtype) * stride + 0.5
    xs = torch.arange(w, device=boxes.device, dtype=boxes.dtype) * stride + 0.5
    c = box_centres(boxes)
    dist = torch.sqrt((xs[None, :] - c[..., 0, None, None]) ** 2 + (ys[:, None] - c[..., 1, None, None]) ** 2)
    pos = dist <= stride
    neg = dist > 2 * stride
    weight = pos * 10.0 + neg * 1.0
    weight = weight / weight.sum((-2, -1), keepdim=True).clamp(min=1e-12)
    return pos.to(boxes.dtype), weight


def tracking_loss(response: Tensor, boxes: Tensor, stride: int) -> Tensor:
    """The weighted cross-entropy of Eq. 9-10 over response cells (a cell of the map plays the role
    of an anchor; there is no box regression, box sizes being fixed by the template)."""
    label, weight = response_targets(boxes, response.shape[-2:], stride)
    ce = F.binary_cross_entropy_with_logits(response, label, reduction="none")
    return (ce * weight).sum((-2, -1)).mean()
