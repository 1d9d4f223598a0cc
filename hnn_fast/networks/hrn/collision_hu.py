"""The learnable collision HU: from the trajectories of two objects, do they collide, and when?

As in the paper: the two trajectories (linearly interpolated over missing frames) go through a 1-D
UNet that mixes multi-scale temporal features into a representation of the same length; one MLP head
says whether the pair collides (cross-entropy), the other when (mean squared error on the frame,
normalised to [0, 1], for colliding pairs), minimised together as 5 * CE + MSE with Adam. The "when"
head scores every frame and reads out the softmax-weighted frame, so that the UNet's temporal
resolution carries through to the answer.

Input channels per sampled frame: x and y of both objects, whether each is seen, and their closeness
exp(-distance / 15) (a designable feature: contact happens at about 15 image units, a scale the raw
coordinates hide).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .scenes import FRAME_STEP, NUM_FRAMES, Collision, Scene, merge_collisions

CHANNELS = 7
COORD_SCALE = 200.0
CONTACT_SCALE = 15.0  # about the distance of two touching objects' centres, in image units
MAX_FRAME = (NUM_FRAMES - 1) * FRAME_STEP


def _interpolate(track: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[F, 2] with NaN -> (filled [F, 2], seen [F]); held at the ends, zero when never seen."""
    seen = np.isfinite(track).all(1)
    if not seen.any():
        return np.zeros_like(track), seen
    t = np.arange(len(track))
    filled = np.stack([np.interp(t, t[seen], track[seen, k]) for k in range(2)], 1)
    return filled, seen


def pair_features(positions: np.ndarray, i: int, j: int) -> np.ndarray:
    """[CHANNELS, NUM_FRAMES] input of the pair (i, j) of one world's positions [F, N, 2]."""
    a, sa = _interpolate(positions[:, i])
    b, sb = _interpolate(positions[:, j])
    dist = np.linalg.norm(a - b, axis=1)
    closeness = np.exp(-dist / CONTACT_SCALE)
    return np.concatenate(
        [a.T / COORD_SCALE, b.T / COORD_SCALE, sa[None], sb[None], closeness[None]], 0
    ).astype(np.float32)


def _worlds(scene: Scene, counterfactual: bool):
    yield -1, scene.positions, scene.collisions
    if counterfactual:
        for k, cs in sorted(scene.counterfactuals.items()):
            if k in scene.counterfactual_positions:
                yield k, scene.counterfactual_positions[k], cs


def pair_dataset(scenes: Sequence[Scene], counterfactual: bool = True) -> tuple[Tensor, Tensor, Tensor]:
    """(features [P, C, F], collide [P] long, frame [P] in [0, 1]) over every pair of objects that are
    both seen somewhere, in the factual world and (optionally) in each counterfactual world."""
    feats, labels, frames = [], [], []
    for scene in scenes:
        for removed, positions, collisions in _worlds(scene, counterfactual):
            first = {}
            for c in sorted(collisions, key=lambda c: c.frame):
                first.setdefault(c.objects, c.frame)
            seen = np.isfinite(positions).all(-1).any(0)
            for i in range(scene.num_objects):
                for j in range(i + 1, scene.num_objects):
                    if i == removed or j == removed or not (seen[i] and seen[j]):
                        continue
                    feats.append(pair_features(positions, i, j))
                    labels.append(int((i, j) in first))
                    frames.append(first.get((i, j), 0) / MAX_FRAME)
    if not feats:
        return torch.zeros(0, CHANNELS, NUM_FRAMES), torch.zeros(0, dtype=torch.long), torch.zeros(0)
    return torch.from_numpy(np.stack(feats)), torch.tensor(labels), torch.tensor(frames, dtype=torch.float32)


class _Block(nn.Sequential):
    def __init__(self, cin: int, cout: int):
        super().__init__(
            nn.Conv1d(cin, cout, 3, padding=1),
            nn.GroupNorm(4, cout),
            nn.ReLU(),
            nn.Conv1d(cout, cout, 3, padding=1),
            nn.GroupNorm(4, cout),
            nn.ReLU(),
        )


class CollisionUNet(nn.Module):
    """1-D UNet (two downsamplings) with a "collide?" head and a "when?" head."""

    def __init__(self, width: int = 16, in_channels: int = CHANNELS):
        super().__init__()
        w = width
        self.enc1, self.enc2, self.enc3 = _Block(in_channels, w), _Block(w, 2 * w), _Block(2 * w, 4 * w)
        self.dec2, self.dec1 = _Block(4 * w + 2 * w, 2 * w), _Block(2 * w + w, w)
        self.collide_head = nn.Sequential(nn.Linear(2 * w, 2 * w), nn.ReLU(), nn.Linear(2 * w, 2))
        self.when_head = nn.Sequential(nn.Linear(w, w), nn.ReLU(), nn.Linear(w, 1))

    def features(self, x: Tensor) -> Tensor:
        """[B, C, L] -> [B, width, L]."""
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool1d(e1, 2))
        e3 = self.enc3(F.max_pool1d(e2, 2))
        d2 = self.dec2(torch.cat([F.interpolate(e3, size=e2.shape[-1]), e2], 1))
        return self.dec1(torch.cat([F.interpolate(d2, size=e1.shape[-1]), e1], 1))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x [B, C, L] -> (collide logits [B, 2], when in [0, 1] of the sampled span [B])."""
        h = self.features(x)
        logits = self.collide_head(torch.cat([h.amax(-1), h.mean(-1)], 1))
        scores = self.when_head(h.transpose(1, 2)).squeeze(-1)  # [B, L]
        position = torch.linspace(0, 1, x.shape[-1], device=x.device, dtype=h.dtype)
        when = (scores.softmax(-1) * position).sum(-1)
        return logits, when


def collision_loss(
    logits: Tensor, when: Tensor, collide: Tensor, frame: Tensor, ce_weight: float = 5.0
) -> tuple[Tensor, Tensor, Tensor]:
    """(5 CE + MSE, CE, MSE); the MSE counts only pairs that do collide."""
    ce = F.cross_entropy(logits, collide)
    positive = collide.float()
    mse = ((when - frame) ** 2 * positive).sum() / positive.sum().clamp(min=1)
    return ce_weight * ce + mse, ce, mse


@dataclass
class CollisionMetrics:
    pairs: int
    positives: int
    precision: float
    recall: float
    f1: float
    frame_error: float  # mean |predicted - true| collision frame over true positives, in video frames

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@torch.no_grad()
def predict(model: nn.Module, feats: Tensor, batch: int = 1024) -> tuple[Tensor, Tensor]:
    """(collides [P] bool, frame [P] in video frames)."""
    model.eval()
    collide, frames = [], []
    for k in range(0, len(feats), batch):
        logits, when = model(feats[k : k + batch])
        collide.append(logits.argmax(1) == 1)
        frames.append(when * MAX_FRAME)
    if not collide:
        return torch.zeros(0, dtype=torch.bool), torch.zeros(0)
    return torch.cat(collide), torch.cat(frames)


def evaluate(model: nn.Module, scenes: Sequence[Scene], counterfactual: bool = False) -> CollisionMetrics:
    feats, label, frame = pair_dataset(scenes, counterfactual)
    pred, when = predict(model, feats)
    truth = label.bool()
    tp = int((pred & truth).sum())
    fp = int((pred & ~truth).sum())
    fn = int((~pred & truth).sum())
    precision = tp / max(tp + fp, 1)
    recall = tp / max(tp + fn, 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    hit = pred & truth
    err = float((when[hit] - frame[hit] * MAX_FRAME).abs().mean()) if hit.any() else float("nan")
    return CollisionMetrics(len(label), int(truth.sum()), precision, recall, f1, err)


def learned_collisions(model: nn.Module, scene: Scene) -> Scene:
    """The scene with the collisions the HU finds (one per colliding pair, at its predicted frame,
    rounded to the sampled frames), in the factual and every counterfactual world."""
    worlds = {}
    for removed, positions, _ in _worlds(scene, True):
        seen = np.isfinite(positions).all(-1).any(0)
        pairs = [
            (i, j)
            for i in range(scene.num_objects)
            for j in range(i + 1, scene.num_objects)
            if i != removed and j != removed and seen[i] and seen[j]
        ]
        if not pairs:
            worlds[removed] = []
            continue
        feats = torch.from_numpy(np.stack([pair_features(positions, i, j) for i, j in pairs]))
        collide, when = predict(model, feats)
        worlds[removed] = merge_collisions(
            Collision(round(float(w) / FRAME_STEP) * FRAME_STEP, p)
            for p, c, w in zip(pairs, collide.tolist(), when)
            if c
        )
    factual = worlds.pop(-1)
    return scene.with_collisions(factual, {k: v for k, v in worlds.items()})


def save_model(model: CollisionUNet, path) -> None:
    torch.save({"width": model.enc1[0].out_channels, "state_dict": model.state_dict()}, path)


def _width(value) -> int:
    # Bounded before the model is built: a doctored width must not allocate without limit.
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1024:
        raise ValueError(f"width must be an int in [1, 1024], got {value!r}")
    return value


def load_model(path) -> CollisionUNet:
    """A model saved by save_model, or the checkpoint (or run directory) of `hnn-fast train hrn`.
    ValueError naming the file when it is unreadable, of another kind or does not fit the model."""
    from pathlib import Path

    path = Path(path)
    if path.is_dir():
        path = path / "checkpoints" / "last.pt"
    if not path.is_file():
        raise FileNotFoundError(f"collision model {str(path)!r} does not exist")
    try:
        # weights_only: a model file is data; loading one must not run code it carries.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch.load raises many types (pickle, zip, EOF, ...); all mean "unreadable"
        reason = " ".join(str(e).split()[:30]) or type(e).__name__
        raise ValueError(f"collision model {str(path)!r}: unreadable, not a model file ({reason})") from None
    try:
        if isinstance(state, dict) and "state_dict" in state:
            model = CollisionUNet(_width(state["width"]))
            model.load_state_dict(state["state_dict"])
        elif isinstance(state, dict) and "model" in state and isinstance(state.get("config"), dict):
            model = CollisionUNet(_width(state["config"].get("width", 16)))
            model.load_state_dict(state["model"])
        else:
            raise ValueError("neither a saved collision HU nor a training checkpoint")
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        reason = " ".join(str(e).split()[:30]) or type(e).__name__
        raise ValueError(f"collision model {str(path)!r}: {reason}") from None
    if not all(torch.isfinite(t).all() for t in model.state_dict().values() if t.is_floating_point()):
        raise ValueError(f"collision model {str(path)!r}: holds non-finite (NaN or inf) weights")
    return model.eval()
