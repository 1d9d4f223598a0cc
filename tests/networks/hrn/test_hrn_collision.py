"""HRN: the learnable collision HU (shapes, data, a training step, use by the reasoner) and its
experiment on the training runtime."""

import numpy as np
import pytest
import torch

from hnn_fast.networks.hrn.collision_hu import (
    CHANNELS,
    CollisionUNet,
    collision_loss,
    evaluate,
    learned_collisions,
    load_model,
    pair_dataset,
    pair_features,
    save_model,
)
from hnn_fast.networks.hrn.scenes import NUM_FRAMES, generate_scenes

pytestmark = pytest.mark.usefixtures("one_thread")


def test_unet_shapes():
    model = CollisionUNet(width=8)
    for length in (NUM_FRAMES, 16, 7):
        logits, when = model(torch.randn(5, CHANNELS, length))
        assert logits.shape == (5, 2) and when.shape == (5,)
        assert ((when >= 0) & (when <= 1)).all()
    assert model.features(torch.randn(2, CHANNELS, NUM_FRAMES)).shape == (2, 8, NUM_FRAMES)


def test_pair_features_interpolate_missing_frames():
    pos = np.full((NUM_FRAMES, 2, 2), np.nan)
    pos[0, 0] = (0, 0)
    pos[4, 0] = (40, 0)
    pos[:, 1] = (40, 0)
    f = pair_features(pos, 0, 1)
    assert f.shape == (CHANNELS, NUM_FRAMES)
    assert np.allclose(f[0, :5] * 200, [0, 10, 20, 30, 40])  # linear between seen frames
    assert np.allclose(f[0, 5:] * 200, 40)  # held after the last one
    assert f[4].tolist()[:6] == [1, 0, 0, 0, 1, 0]
    assert f[6, 4] == pytest.approx(1.0)  # touching: closeness 1


def test_pair_dataset_labels():
    scenes = generate_scenes(4, seed=1)
    feats, collide, frame = pair_dataset(scenes, counterfactual=False)
    expected = sum(len({c.objects for c in s.collisions}) for s in scenes)
    assert collide.sum().item() == expected
    assert feats.shape[1:] == (CHANNELS, NUM_FRAMES)
    assert (frame[collide == 0] == 0).all()
    firsts = sorted(
        min(c.frame for c in s.collisions if c.objects == pair) / 185
        for s in scenes
        for pair in {c.objects for c in s.collisions}
    )
    assert sorted(frame[collide == 1].tolist()) == pytest.approx(firsts)


def test_training_steps_reduce_the_loss():
    torch.manual_seed(0)
    feats, collide, frame = pair_dataset(generate_scenes(6, seed=2))
    model = CollisionUNet(width=8)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        logits, when = model(feats)
        loss, ce, mse = collision_loss(logits, when, collide, frame)
        assert loss.item() == pytest.approx(5 * ce.item() + mse.item(), rel=1e-5)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_learned_collisions_feed_the_scene(tmp_path):
    scene = generate_scenes(1, seed=4)[0]
    model = CollisionUNet(width=8)
    path = tmp_path / "hu.pt"
    save_model(model, path)
    back = load_model(path)
    learned = learned_collisions(back, scene)
    assert learned.objects == scene.objects and set(learned.counterfactuals) == set(scene.counterfactuals)
    assert all(c.frame % 5 == 0 for c in learned.collisions)
    m = evaluate(back, [scene])
    assert 0 <= m.precision <= 1 and 0 <= m.recall <= 1 and m.pairs > 0
    with pytest.raises(FileNotFoundError, match="collision model"):
        load_model(tmp_path / "nope.pt")


def test_hrn_experiment_runs_on_the_runtime(tmp_path, monkeypatch):
    from hnn_fast.networks.hrn import scenes as scenes_module
    from hnn_fast.train import train

    # generated scenes keep the test fast and independent of the shared file
    path = tmp_path / "scenes.jsonl"
    import json

    with open(path, "w") as fh:
        for s in generate_scenes(12, seed=0, first_index=10000):
            fh.write(json.dumps(scenes_module.scene_record(s)) + "\n")
        for s in generate_scenes(4, seed=1, first_index=10800):
            fh.write(json.dumps(scenes_module.scene_record(s)) + "\n")
    result = train(
        "hrn",
        overrides=[f"scenes={path}", "epochs=1", "batch_size=64", "width=8"],
        out_dir=tmp_path / "run",
        progress=False,
    )
    assert result.status == "completed"
    assert {"loss", "acc", "tp", "fp", "fn"} <= set(result.metrics["eval"])
    model = load_model(tmp_path / "run")
    assert isinstance(model, CollisionUNet)
