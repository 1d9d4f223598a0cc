"""hrn: the learnable collision HU of the hybrid reasoning network (hnn_fast.networks.hrn.collision_hu).
Pairs of object trajectories from the perceived CLEVRER scenes 10000-10799 (factual and
counterfactual worlds) train a 1-D UNet with a "collide?" and a "when?" head on 5 * CE + MSE with
Adam; scenes 10800-10999 evaluate it. Without the shared scene file, generated scenes stand in (and
the command says so)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn
from torch.utils.data import TensorDataset

from ...train.config import TrainConfig, param
from ...train.registry import Experiment, StepContext
from .collision_hu import MAX_FRAME, CollisionUNet, collision_loss, pair_dataset
from .scenes import TEST_SCENES, TRAIN_SCENES, default_scene_file, generate_scenes, load_scenes


@dataclass
class HRNConfig(TrainConfig):
    epochs: int = param(4, "passes over the training pairs (ignored when max_steps > 0)", min=1)
    batch_size: int = param(256, "pairs per batch", min=1)
    lr: float = param(2e-3, "Adam learning rate", gt=0)
    width: int = param(16, "channels of the UNet's first level", min=4)
    ce_weight: float = param(5.0, "weight of the cross-entropy term (the paper: 5 * CE + MSE)", min=0)
    counterfactual: bool = param(True, "also train on the pairs of the counterfactual worlds")
    scenes: str = param(
        "", "perceived-scenes file; empty: $HNN_FAST_CLEVRER_SCENES or ../shared/data/clevrer-scenes/"
    )
    train_first: int = param(TRAIN_SCENES.start, "first training scene index", min=0)
    train_last: int = param(TRAIN_SCENES.stop - 1, "last training scene index", min=0)
    test_first: int = param(TEST_SCENES.start, "first evaluation scene index", min=0)
    test_last: int = param(TEST_SCENES.stop - 1, "last evaluation scene index", min=0)


class HRNCollision(Experiment):
    name = "hrn"
    description = "learnable collision HU of the hybrid reasoning network (1-D UNet on CLEVRER trajectories)"
    config_class = HRNConfig
    quick = {"epochs": 1, "train_last": 10199, "test_last": 10849}

    def build_model(self, cfg: HRNConfig) -> nn.Module:
        return CollisionUNet(cfg.width)

    def build_datasets(self, cfg: HRNConfig) -> tuple[TensorDataset, TensorDataset]:
        train_ids = range(cfg.train_first, cfg.train_last + 1)
        test_ids = range(cfg.test_first, cfg.test_last + 1)
        path = cfg.scenes or default_scene_file()
        if path is None:
            print("note: CLEVRER scene file not found; training on generated scenes")
            train, test = generate_scenes(160, seed=0), generate_scenes(40, seed=1)
        else:
            train, test = load_scenes(path, train_ids), load_scenes(path, test_ids)
        return (
            TensorDataset(*pair_dataset(train, cfg.counterfactual)),
            TensorDataset(*pair_dataset(test, counterfactual=False)),
        )

    def train_step(self, model: nn.Module, batch: tuple[Tensor, Tensor, Tensor], ctx: StepContext):
        feats, collide, frame = batch
        logits, when = model(feats)
        loss, ce, mse = collision_loss(logits.float(), when.float(), collide, frame, ctx.cfg.ce_weight)
        pred = logits.argmax(1) == 1
        truth = collide.bool()
        hit = (pred & truth).float()
        frame_err = ((when - frame).abs() * MAX_FRAME * hit).sum() / hit.sum().clamp(min=1)
        # rates, not counts: the loop averages metrics over batches, and precision / recall follow as
        # tp / (tp + fp) and tp / (tp + fn) of the averaged rates
        return loss, {
            "ce": ce,
            "mse": mse,
            "acc": (pred == truth).float().mean(),
            "tp": hit.mean(),
            "fp": (pred & ~truth).float().mean(),
            "fn": (~pred & truth).float().mean(),
            "frame_err": frame_err,
        }
