"""Construction phase of the HRN's spiking reasoner: the perception HU turns every perceived fact into
coincident spikes and one-shot Hebbian learning writes the scene's synapses (no hand-set weights).

Object o fires together with the concept neurons of its static attributes and with the scene's
"present" and "moving" neurons; event e fires together with the neurons of its kind
(start/end/in/out/collision), its world (seen, unseen, without object k), its objects, the objects
moving / visible at its frame, and the objects whose removal keeps its pair colliding. Every synapse
between co-active neurons grows by dW = eta * pre * post. Temporal order is learnt from timing: in
each world the HU fires each event at the time rank of its frame, and a synapse a -> b grows when a
fired strictly before b. Direct causes are the coincidence of "before" and "shares an object".
Only perception is taken from executor.World (the numbered events, their frames and worlds, motion
and visibility); its derived relations (order, causes, ancestry, counterfactual pairs) are not used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ...ops import lif
from .executor import ORDERS, World
from .scenes import COLORS, MATERIALS, SHAPES, Scene

CONCEPTS = (*COLORS, *MATERIALS, *SHAPES, *ORDERS)
CONCEPT_INDEX = {c: i for i, c in enumerate(CONCEPTS)}
ATTRIBUTE_CONCEPTS = {
    "color": [CONCEPT_INDEX[c] for c in COLORS],
    "material": [CONCEPT_INDEX[m] for m in MATERIALS],
    "shape": [CONCEPT_INDEX[s] for s in SHAPES],
}
EVENT_KINDS = ("start", "end", "in", "out", "collision")


def fire(current: Tensor, threshold: float | Tensor = 1.0) -> Tensor:
    """One integrate-and-fire step on the fused op: spikes where the current reaches the threshold.
    The small margin keeps sums of unit weights that reach a threshold exactly from missing it by a
    rounding error."""
    return lif(current.unsqueeze(0).contiguous(), decay=0.0, threshold=threshold - 1e-4)[0][0]


def hebbian(pre: Tensor, post: Tensor, eta: float = 1.0) -> Tensor:
    """Co-activity learning: W[b, i, j] = eta * sum_t pre[t, b, i] * post[t, b, j]."""
    return eta * torch.einsum("tbi,tbj->bij", pre, post)


def hebbian_order(spikes: Tensor, eta: float = 1.0) -> Tensor:
    """Timing learning: W[b, i, j] = eta * sum_t trace[t-1, b, i] * spikes[t, b, j], with the trace
    the running count of i's earlier spikes (strictly earlier: simultaneous spikes do not connect)."""
    trace = torch.cumsum(spikes, 0) - spikes
    return eta * torch.einsum("tbi,tbj->bij", trace.clamp(max=1.0), spikes)


@dataclass
class SceneGraph:
    """The learnt synapses of a batch of videos (B videos, O objects, E events, padded)."""

    worlds: list[World]
    present: Tensor  # [B, O]  "present" -> object
    attr: Tensor  # [B, C, O]  concept -> object
    moving_any: Tensor  # [B, O]  "moving" -> object
    member: Tensor  # [B, O, E]  object <-> event
    moving_at: Tensor  # [B, E, O]  event (its frame) -> objects moving then
    visible_at: Tensor  # [B, E, O]
    kind: Tensor  # [B, K, E]
    world: Tensor  # [B, 2 + O, E]  seen, unseen, without object k
    survives: Tensor  # [B, O, E]  object k -> collisions whose pair still collides without k
    before: Tensor  # [B, E, E]  a -> b: a strictly earlier, same world
    causes: Tensor  # [B, E, E]

    @property
    def num_objects(self) -> int:
        return self.present.shape[1]

    @property
    def num_events(self) -> int:
        return self.member.shape[2]


def _surviving_pairs(w: World) -> np.ndarray:
    """[O, E]: the perceived pair of collision e also collides in the world without object k."""
    out = np.zeros((w.scene.num_objects, len(w.events)), bool)
    for k, ids in w.counterfact.items():
        pairs = {w.events[i].objects for i in ids}
        for e, event in enumerate(w.events):
            out[k, e] = event.kind == "collision" and event.objects in pairs
    return out


def _spikes(facts: np.ndarray) -> Tensor:
    """The perception HU's code: a fact drives its neuron with a supra-threshold current."""
    return fire(torch.as_tensor(facts, dtype=torch.float32), 0.5)


def build_graphs(scenes: Sequence[Scene | World]) -> SceneGraph:
    """Construction phase: Hebbian learning from spike trains that encode the perceived scenes."""
    worlds = [s if isinstance(s, World) else World(s) for s in scenes]
    B = len(worlds)
    O = max(w.scene.num_objects for w in worlds)
    E = max(max(len(w.events) for w in worlds), 1)
    C = len(CONCEPTS)
    # object presentation: step t shows object t with its attributes, "present" and "moving"
    obj_pre = np.zeros((O, B, O), np.float32)
    obj_post = np.zeros((O, B, C + 2), np.float32)
    # event presentation: step t shows event t with everything perceived about it
    n_post = O + O + O + len(EVENT_KINDS) + 2 + O + O
    evt_pre = np.zeros((E, B, E), np.float32)
    evt_post = np.zeros((E, B, n_post), np.float32)
    groups = max(1 + w.scene.num_objects for w in worlds)
    max_rank = 1
    ranks = []
    for b, w in enumerate(worlds):
        scene = w.scene
        for o in scene.objects:
            obj_pre[o.id, b, o.id] = 1
            for kind in ("color", "material", "shape"):
                obj_post[o.id, b, CONCEPT_INDEX[o.attribute(kind)]] = 1
            obj_post[o.id, b, C] = 1
            obj_post[o.id, b, C + 1] = w.moving_any[o.id]
        member = w.membership()
        survives = _surviving_pairs(w)
        for e, event in enumerate(w.events):
            evt_pre[e, b, e] = 1
            row = evt_post[e, b]
            n = scene.num_objects
            row[0:n] = member[:, e]
            row[O : O + n] = w.moving_at[e]
            row[2 * O : 2 * O + n] = w.visible_at[e]
            row[3 * O + EVENT_KINDS.index(event.kind)] = 1
            k0 = 3 * O + len(EVENT_KINDS)
            g = w.group[e]
            if g == 0:
                row[k0 + (0 if e in w.seen else 1)] = 1
            else:
                row[k0 + 2 + (g - 1)] = 1
            row[k0 + 2 + O : k0 + 2 + O + n] = survives[:, e]
        # the time rank of each event's frame within its world
        rank = {}
        for g in set(w.group):
            idx = [e for e in range(len(w.events)) if w.group[e] == g]
            frames = sorted({w.events[e].frame for e in idx})
            for e in idx:
                rank[e] = frames.index(w.events[e].frame)
            max_rank = max(max_rank, len(frames))
        ranks.append(rank)
    o_pre, o_post = _spikes(obj_pre), _spikes(obj_post)
    w_obj = hebbian(o_pre, o_post)  # [B, O, C + 2]
    e_pre, e_post = _spikes(evt_pre), _spikes(evt_post)
    w_evt = hebbian(e_pre, e_post)  # [B, E, n_post]
    # one episode per world: events fire at the rank of their frame
    before = torch.zeros(B, E, E)
    for g in range(groups):
        timing = np.zeros((max_rank, B, E), np.float32)
        for b, w in enumerate(worlds):
            for e, r in ranks[b].items():
                if w.group[e] == g:
                    timing[r, b, e] = 1
        before += hebbian_order(_spikes(timing))
    k0 = 3 * O + len(EVENT_KINDS)
    member = w_evt[:, :, 0:O].transpose(1, 2)
    shares = (torch.einsum("boi,boj->bij", member, member) > 0).float()
    causes = fire(before + shares, 2.0)  # coincidence of "earlier" and "shares an object"
    return SceneGraph(
        worlds=worlds,
        present=w_obj[:, :, C],
        attr=w_obj[:, :, :C].transpose(1, 2),
        moving_any=w_obj[:, :, C + 1],
        member=member,
        moving_at=w_evt[:, :, O : 2 * O],
        visible_at=w_evt[:, :, 2 * O : 3 * O],
        kind=w_evt[:, :, 3 * O : k0].transpose(1, 2),
        world=w_evt[:, :, k0 : k0 + 2 + O].transpose(1, 2),
        survives=w_evt[:, :, k0 + 2 + O : k0 + 2 + 2 * O].transpose(1, 2),
        before=before,
        causes=causes,
    )
