"""The spiking reasoner of the hybrid reasoning network (HRN): integrate-and-fire neurons whose
connections are built from the perceived scene by a Hebbian rule, driven by spike stimuli that a
designable HU makes from the program, answering from the final activity.

Neuron populations (per video; padded to the batch's largest video):

    object neurons      O   one per object
    event neurons       E   one per event of every world (executor.World numbering): start, end, in,
                            out, seen and unseen collisions, the collisions of each counterfactual world
    concept neurons     C   8 colours, 2 materials, 3 shapes, 3 order words
    yes / no neurons    2
    function neurons    F   one per program function (and one for "literal")

Construction phase (`build_graphs`, one-shot Hebbian learning, no hand-set weights). A designable
perception HU turns each perceived fact into coincident spikes: object o fires together with the
concept neurons of its static attributes and with the scene's "present" and "moving" neurons; event e
fires together with the neurons of its kind (start/end/in/out/collision), its world (seen, unseen,
without object k), its objects, the objects moving / visible at its frame, and the objects whose
removal keeps its collision. Every synapse between co-active neurons grows by dW = eta * pre * post.
Temporal order is learnt the same way from timing: in each world the HU fires each event at the time
rank of its frame, and a synapse a -> b grows when a fired strictly before b (a non-decaying
eligibility trace, reset between worlds). Direct causes are the coincidence of "before" and "shares an
object"; ancestors are found at reasoning time by spikes spreading backwards along those synapses.

Reasoning phase. The designable program HU compiles the postfix program (executor.compile_program)
into one instruction per step: a spike on that function's neuron, a spike on the literal's concept
neuron, and the routing of stack slots (which population vectors are inputs and which receives the
output). Each slot is a population vector [O | E | C | yes,no]. Every function is a small feed-forward
spiking circuit run through hnn_fast.ops.lif (decay 0, i.e. integrate-and-fire, hard reset), batched
over all questions of all videos; threshold 2 on two inputs is a coincidence (AND) gate, a weight of
-K is inhibition:

    objects / events / unseen_events / all_events   world neuron -> object/event neurons (learnt links)
    counterfact_events(o)           object o -> events of the world without o
    filter_<attr>(X, c)             X + (c -> objects), threshold 2
    filter_moving(X[, e])           X + moving-links (of frame e), threshold 2; stationary: visible
                                    and inhibited by the moving links
    filter_<kind>(E[, o])           E + (kind -> events) [+ (o -> its events)], threshold 2 or 3
    filter_before/after(E, e)       E + (e -> events learnt as earlier / later), threshold 2
    filter_order(E, n-th)           each event counts the active events before it (after it, for
                                    "last"); ">= n" and ">= n+1" layers, then ">= n and not >= n+1"
    filter_ancestor(E, e)           recurrent: spikes spread from e backwards along cause synapses,
                                    self-holding, until no new neuron fires; then AND with E
    filter_counterfact(E, o)        E + (o -> collisions that survive without o), threshold 2
    unique / query_frame            copy (no cardinality check: a non-unique set flows on)
    count                           copy; the answer is the number of active neurons
    exist                           yes fires on any input spike; no fires on the bias unless inhibited
    negate                          yes and no cross-wired
    belong_to(x, S)                 x + S threshold 2, then OR into yes (no as in exist)
    query_<attr>(o)                 o -> concept neurons of that attribute
    query_object(e)                 e -> its objects; query_collision_partner(e, o): ... inhibited by o

Readout from the final spikes of slot 0: yes/no from the yes neuron, a count from the number of active
object or event neurons, an attribute from the first active concept neuron of its kind (the first of
the kind when none fires), an object or event from the first active neuron. Unlike the executor, the
circuits never stop with an error on data they do not expect (e.g. two collisions where one was
meant): activity simply flows on, which is what makes the reasoner degrade gracefully.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ...ops import lif
from .executor import (
    BOOL,
    EVT,
    FRAME,
    FUNCTIONS,
    ILL_POSED,
    INT,
    LIT,
    OBJ,
    ORDERS,
    Compiled,
    World,
    compile_program,
)
from .scenes import COLORS, MATERIALS, SHAPES, Scene

CONCEPTS = (*COLORS, *MATERIALS, *SHAPES, *ORDERS)
CONCEPT_INDEX = {c: i for i, c in enumerate(CONCEPTS)}
ATTRIBUTE_CONCEPTS = {
    "color": [CONCEPT_INDEX[c] for c in COLORS],
    "material": [CONCEPT_INDEX[m] for m in MATERIALS],
    "shape": [CONCEPT_INDEX[s] for s in SHAPES],
}
EVENT_KINDS = ("start", "end", "in", "out", "collision")
FUNCTION_NAMES = ("literal", *sorted(FUNCTIONS))
FUNCTION_INDEX = {f: i for i, f in enumerate(FUNCTION_NAMES)}
INHIBIT = 100.0  # weight of an inhibitory synapse: overrides any excitation a circuit can collect


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
            row[k0 + 2 + O : k0 + 2 + O + n] = w.cf_pairs[:, e]
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


# ---------------------------------------------------------------------------------------- program HU


@dataclass
class EncodedPrograms:
    """The program HU's output for Q questions: function and concept spikes per instruction step,
    and the slot routing of each step."""

    stimulus: Tensor  # [S, Q, F + C] spikes
    args: np.ndarray  # [S, Q, 2] slots read (-1: none)
    nargs: np.ndarray  # [S, Q]
    out: np.ndarray  # [S, Q] slot written (-1: idle)
    compiled: list[Compiled]
    depth: int


def encode_programs(programs: Sequence[Sequence[str]]) -> EncodedPrograms:
    """Designable HU: program tokens -> spike stimuli (ProgramError for an unknown token)."""
    compiled = [compile_program(p) for p in programs]
    Q = len(programs)
    S = max([len(c.instrs) for c in compiled if c.error is None] + [1])
    F, C = len(FUNCTION_NAMES), len(CONCEPTS)
    drive = np.zeros((S, Q, F + C), np.float32)
    args = np.full((S, Q, 2), -1)
    nargs = np.zeros((S, Q), int)
    out = np.full((S, Q), -1)
    for q, c in enumerate(compiled):
        if c.error is not None:
            continue
        for s, ins in enumerate(c.instrs):
            drive[s, q, FUNCTION_INDEX[ins.op]] = 1
            if ins.literal is not None:
                drive[s, q, F + CONCEPT_INDEX[ins.literal]] = 1
            args[s, q, : len(ins.args)] = ins.args
            nargs[s, q] = len(ins.args)
            out[s, q] = ins.out
    depth = max([c.depth for c in compiled if c.error is None] + [1])
    return EncodedPrograms(_spikes(drive), args, nargs, out, compiled, depth)


# ------------------------------------------------------------------------------------------- reasoner


@dataclass
class ReasonerOutput:
    answers: list[str]
    time_steps: list[int]  # simulated steps per question
    neurons: int  # simulated per question: the stack-slot populations, function and concept neurons
    final: Tensor  # [Q, V] spikes of the answer slot


class SpikingReasoner:
    """Answers programs over videos with the spiking circuits described in the module docstring."""

    def __init__(self, max_closure_steps: int = 64):
        self.max_closure_steps = max_closure_steps

    def __call__(
        self,
        programs: Sequence[Sequence[str]],
        scenes: Sequence[Scene | World],
        scene_of: Sequence[int] | None = None,
        graph: SceneGraph | None = None,
    ) -> ReasonerOutput:
        """programs[q] is asked about scenes[scene_of[q]] (default: scene q)."""
        graph = graph or build_graphs(scenes)
        scene_of = np.arange(len(programs)) if scene_of is None else np.asarray(scene_of)
        enc = encode_programs(programs)
        return self.run(enc, graph, scene_of)

    def run(self, enc: EncodedPrograms, graph: SceneGraph, scene_of: np.ndarray) -> ReasonerOutput:
        Q = len(enc.compiled)
        O, E, C = graph.num_objects, graph.num_events, len(CONCEPTS)
        V = O + E + C + 2
        F = len(FUNCTION_NAMES)
        slots = torch.zeros(Q, enc.depth, V)
        steps = np.zeros(Q, int)
        lay = _Layout(O, E, C)
        for s in range(enc.stimulus.shape[0]):
            fn_spikes = enc.stimulus[s, :, :F]
            concept_spikes = enc.stimulus[s, :, F:]
            active = fn_spikes.sum(1) > 0
            ops = fn_spikes.argmax(1)
            # a circuit whose function neuron is silent gets no gating input and stays silent, so each
            # step simulates only the circuits that fired, each batched over its questions
            for f in torch.unique(ops[active]).tolist():
                name = FUNCTION_NAMES[f]
                idx = torch.nonzero(active & (ops == f)).flatten()
                q = idx.numpy()
                a0 = torch.as_tensor(enc.args[s, q, 0])
                a1 = torch.as_tensor(enc.args[s, q, 1])
                x = slots[idx, a0.clamp(min=0)] * (a0 >= 0).unsqueeze(1)
                y = slots[idx, a1.clamp(min=0)] * (a1 >= 0).unsqueeze(1)
                b = torch.as_tensor(scene_of[q])
                result, n_steps = _circuit(
                    name,
                    x,
                    y,
                    torch.as_tensor(enc.nargs[s, q]),
                    concept_spikes[idx],
                    graph,
                    b,
                    lay,
                    self.max_closure_steps,
                )
                slots[idx, torch.as_tensor(enc.out[s, q])] = result
                steps[q] += n_steps
        final = slots[:, 0]
        answers = [_read(final[q], c, lay, graph.worlds[scene_of[q]]) for q, c in enumerate(enc.compiled)]
        neurons = enc.depth * V + F + C
        return ReasonerOutput(answers, steps.tolist(), neurons, final)


@dataclass(frozen=True)
class _Layout:
    O: int
    E: int
    C: int

    def split(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        O, E, C = self.O, self.E, self.C
        return x[:, :O], x[:, O : O + E], x[:, O + E : O + E + C], x[:, O + E + C :]

    def join(self, n: int, obj=None, evt=None, con=None, yn=None) -> Tensor:
        parts = [
            obj if obj is not None else torch.zeros(n, self.O),
            evt if evt is not None else torch.zeros(n, self.E),
            con if con is not None else torch.zeros(n, self.C),
            yn if yn is not None else torch.zeros(n, 2),
        ]
        return torch.cat(parts, 1)


def _yes_no(evidence: Tensor) -> Tensor:
    """yes fires on any evidence; no fires on its bias unless evidence inhibits it."""
    yes = fire(evidence)
    no = fire(1.0 - INHIBIT * evidence)
    return torch.stack([yes, no], 1)


def _circuit(
    name: str,
    x: Tensor,
    y: Tensor,
    nargs: Tensor,
    concepts: Tensor,
    g: SceneGraph,
    b: Tensor,
    lay: _Layout,
    max_closure: int,
) -> tuple[Tensor, int]:
    n = x.shape[0]
    xo, xe, _xc, xb = lay.split(x)
    yo, ye, yc, _yb = lay.split(y)
    J = lay.join
    if name == "literal":
        return J(n, con=fire(concepts)), 1
    if name == "objects":
        return J(n, obj=fire(g.present[b])), 1
    if name in ("events", "unseen_events", "all_events"):
        seen, unseen = g.world[b, 0], g.world[b, 1]
        drive = {"events": seen, "unseen_events": unseen, "all_events": seen + unseen}[name]
        return J(n, evt=fire(drive)), 1
    if name == "counterfact_events":
        return J(n, evt=fire(torch.einsum("qo,qoe->qe", xo, g.world[b, 2:]))), 1
    if name in ("unique", "query_frame", "count"):
        return J(n, obj=fire(xo), evt=fire(xe)), 1
    if name == "exist":
        return J(n, yn=_yes_no(xo.sum(1) + xe.sum(1))), 2
    if name == "negate":
        return J(n, yn=fire(xb.flip(1))), 1
    if name == "belong_to":
        both = torch.cat([fire(xo + yo, 2.0), fire(xe + ye, 2.0)], 1)
        return J(n, yn=_yes_no(both.sum(1))), 2
    if name in ("filter_color", "filter_material", "filter_shape"):
        return J(n, obj=fire(xo + torch.einsum("qc,qco->qo", yc, g.attr[b]), 2.0)), 1
    if name in ("filter_moving", "filter_stationary"):
        with_frame = (nargs == 2).float().unsqueeze(1)
        moving = (
            with_frame * torch.einsum("qe,qeo->qo", ye, g.moving_at[b]) + (1 - with_frame) * g.moving_any[b]
        )
        if name == "filter_moving":
            return J(n, obj=fire(xo + moving, 2.0)), 1
        visible = (
            with_frame * torch.einsum("qe,qeo->qo", ye, g.visible_at[b]) + (1 - with_frame) * g.present[b]
        )
        return J(n, obj=fire(xo + visible - INHIBIT * moving, 2.0)), 1
    if name in ("filter_start", "filter_end", "filter_in", "filter_out", "filter_collision"):
        kind = g.kind[b, EVENT_KINDS.index(name[7:])]
        with_object = (nargs == 2).float().unsqueeze(1)
        of_object = torch.einsum("qo,qoe->qe", yo, g.member[b])
        return J(n, evt=fire(xe + kind + with_object * of_object, 2.0 + with_object)), 1
    if name in ("filter_before", "filter_after"):
        before = g.before[b]
        if name == "filter_before":
            near = torch.einsum("qj,qij->qi", ye, before)
        else:
            near = torch.einsum("qi,qij->qj", ye, before)
        return J(n, evt=fire(xe + near, 2.0)), 1
    if name == "filter_order":
        order = yc[:, [CONCEPT_INDEX[o] for o in ORDERS]]  # which order word spiked
        rank = order[:, 1:2]  # "second" wants one event ahead of it
        later = order[:, 2:3]
        ahead = (1 - later) * torch.einsum("qi,qij->qj", xe, g.before[b]) + later * torch.einsum(
            "qj,qij->qi", xe, g.before[b]
        )
        at_least = fire(INHIBIT * xe + ahead, INHIBIT + rank)
        beyond = fire(INHIBIT * xe + ahead, INHIBIT + rank + 1)
        return J(n, evt=fire(INHIBIT * at_least - INHIBIT * beyond, INHIBIT)), 2
    if name == "filter_ancestor":
        causes = g.causes[b]
        found = torch.zeros_like(ye)
        v = torch.zeros_like(ye)
        steps = 0
        for steps in range(1, max_closure + 1):  # noqa: B007 - the count is read after the loop
            # a neuron fires when it causes the target or a found ancestor; found ones hold themselves
            drive = torch.einsum("qij,qj->qi", causes, ye + found) + INHIBIT * found
            spikes, v = lif(drive.unsqueeze(0), v, decay=0.0, threshold=1.0 - 1e-4)
            spikes = spikes[0]
            if torch.equal(spikes, found):
                break
            found = spikes
        return J(n, evt=fire(xe + found, 2.0)), steps + 1
    if name == "filter_counterfact":
        return J(n, evt=fire(xe + torch.einsum("qo,qoe->qe", yo, g.survives[b]), 2.0)), 1
    if name in ("query_color", "query_material", "query_shape"):
        mask = torch.zeros(lay.C)
        mask[ATTRIBUTE_CONCEPTS[name[6:]]] = 1
        return J(n, con=fire(torch.einsum("qo,qco->qc", xo, g.attr[b]) - INHIBIT * (1 - mask))), 1
    if name == "query_object":
        return J(n, obj=fire(torch.einsum("qe,qoe->qo", xe, g.member[b]))), 1
    if name == "query_collision_partner":
        return J(n, obj=fire(torch.einsum("qe,qoe->qo", xe, g.member[b]) - INHIBIT * yo)), 1
    raise AssertionError(name)


def _read(final: Tensor, compiled: Compiled, lay: _Layout, world: World) -> str:
    if compiled.error is not None:
        return ILL_POSED
    obj, evt, con, yn = lay.split(final.unsqueeze(0))
    kind = compiled.out_type
    if kind == BOOL:
        return "yes" if yn[0, 0] > 0 else "no"
    if kind == INT:
        return str(int(obj.sum() + evt.sum()))
    if kind == LIT:
        attr = compiled.instrs[-1].op[len("query_") :]
        ids = ATTRIBUTE_CONCEPTS.get(attr, range(lay.C))
        hit = [i for i in ids if con[0, i] > 0]
        return CONCEPTS[hit[0] if hit else ids[0]]
    if kind == OBJ:
        hit = torch.nonzero(obj[0]).flatten()
        return f"object {int(hit[0])}" if len(hit) else ILL_POSED
    if kind in (EVT, FRAME):
        hit = torch.nonzero(evt[0]).flatten()
        return f"event {int(hit[0])}" if len(hit) else ILL_POSED
    return ILL_POSED
