"""The hybrid reasoning network's two models: the spiking reasoner (graph built from the perceived
scene by Hebbian learning, program stimuli from a designable HU) and the learnable collision HU
(1-D UNet with two MLP heads). Defined in hnn_fast.hrn; see README.md, "Hybrid reasoning network"."""

from ..hrn.collision_hu import CollisionUNet, learned_collisions
from ..hrn.reasoner import SceneGraph, SpikingReasoner, build_graphs, encode_programs

__all__ = ["CollisionUNet", "SceneGraph", "SpikingReasoner", "build_graphs", "encode_programs",
           "learned_collisions"]
