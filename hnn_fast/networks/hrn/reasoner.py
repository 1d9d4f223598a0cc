"""The spiking reasoner of the hybrid reasoning network (HRN): per scene one recurrent network of
integrate-and-fire neurons (decay 0, hard reset, one-step synaptic delay), sized for the scene's own
objects and events; all the questions about a scene are the samples of one call of
hnn_fast.ops.lif_recurrent with that network as the shared weight [N, N]. The call simulates the
neurons the stimuli can make fire (`can_fire`); the others never fire.

Synapses = prior-knowledge circuit templates (below) whose fact-dependent weights are the scene's
Hebbian synapses (construction.build_graphs). M = 1024 is larger than any excitation a data path
collects, so `M * gate + data >= M + k` is a gated k-of-n coincidence and `-M` an inhibition.

Representative neurons (V = objects | events | concepts | yes, no):
    X_s   stack slot s: self-holding working memory (self synapse M + 1, threshold M + 1/2)
    L_s   read-out of slot s, open while the HU drives its gate
    A, B  argument latches (self-holding), R the result latch; ERR the ill-posed latch
Functional neurons: one per function (driven by the HU), gated predicate populations
    Qo / Qe     object / event filter: gate + element of A + predicates + HU bias >= M + 2 1/2
                (a copy when the HU biases by 2: unique, count, query_frame)
    MV, VS      moving; stationary = visible and inhibited by moving (at B's frame, or at any frame)
    PM PS PB PA events of B's object; surviving without B's object; before / after B's event
    H           ancestry: self-holding, spreads backwards along the cause synapses from B's event
    CE          the collisions of the world without A's object
    K*, G, Ord  ordering: counts of active earlier (later) events; Ord = exactly the wanted rank
    QX, QA      objects of A's event (minus B's object); concepts of A's object
    Z, yes/no   belong_to, exist, negate; CK0 / CK2 / ERRK: a single-valued result holds not
                exactly one element, or a collision partner of a non-collision

Designable program HU (`encode_programs`): the postfix program (executor.compile_program) becomes a
stimulus sequence [T, Q, N]: a literal spikes its concept neuron in its slot; a function opens the
read-out of its argument slots into A and B, drives its function neurons (and the filter biases)
for a compute window, closes the window with the single-value check, clears its slots, opens the
write of R into the output slot and clears the latches. Every window is as long as the deepest
circuit (three synaptic steps) except ancestry's, which is as long as the longest chain of
distinct event times in the batch's scenes allows. The answer is read from slot 0 at the end:
yes/no from its yes/no neurons, a count from its active objects and events, an attribute, object
or event when exactly one such neuron fires (otherwise "error"). The ERR latch flags the programs the
network finds ill-posed; the answer is still read from the firing state.

Steps to stable are measured from the simulated spikes: for each instruction, the steps from its
onset until the result latch stops changing, plus the clear and write steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from ... import ops
from .construction import ATTRIBUTE_CONCEPTS, CONCEPT_INDEX, CONCEPTS, EVENT_KINDS, SceneGraph, build_graphs
from .executor import BOOL, EVT, FRAME, ILL_POSED, INT, LIT, OBJ, Compiled, World, compile_program
from .scenes import Scene

M = 1024.0
COMPUTE_STEPS = 3  # synaptic depth of the deepest circuit (function -> predicate -> filter -> R)
SINGLE_VALUED = ("unique", "filter_order", "query_object", "query_collision_partner")
ORDER_WORDS = ("first", "second", "last")
GATES = (
    "objects events unseen_events all_events ce qo mv mvnf st stnf qe pm ps bf af an ord ex ng bl "
    "qx qpk ck " + " ".join(f"kind_{k}" for k in EVENT_KINDS) + " qa_color qa_material qa_shape"
).split()
KIND_OF = {f"filter_{k}": f"kind_{k}" for k in EVENT_KINDS}
# function -> (gate neurons the HU drives, filter population, bias)
_STIMULI: dict[str, tuple[tuple[str, ...], str | None, float]] = {
    "objects": (("objects",), None, 0),
    "events": (("events",), None, 0),
    "unseen_events": (("unseen_events",), None, 0),
    "all_events": (("all_events",), None, 0),
    "counterfact_events": (("ce",), None, 0),
    "unique": (("qo", "qe"), "both", 2),
    "count": (("qo", "qe"), "both", 2),
    "query_frame": (("qo", "qe"), "both", 2),
    "exist": (("ex",), None, 0),
    "negate": (("ng",), None, 0),
    "belong_to": (("bl",), None, 0),
    "filter_color": (("qo",), "Qo", 1),
    "filter_material": (("qo",), "Qo", 1),
    "filter_shape": (("qo",), "Qo", 1),
    "filter_before": (("qe", "bf"), "Qe", 1),
    "filter_after": (("qe", "af"), "Qe", 1),
    "filter_ancestor": (("qe", "an"), "Qe", 1),
    "filter_counterfact": (("qe", "ps"), "Qe", 1),
    "filter_order": (("ord",), None, 0),
    "query_color": (("qa_color",), None, 0),
    "query_material": (("qa_material",), None, 0),
    "query_shape": (("qa_shape",), None, 0),
    "query_object": (("qx",), None, 0),
    "query_collision_partner": (("qx", "qpk"), None, 0),
}


@dataclass
class Layout:
    """Neuron indices of the network for O objects, E events and D stack slots."""

    O: int
    E: int
    D: int
    size: int = 0
    pops: dict[str, slice] = field(default_factory=dict)
    thresholds: list[float] = field(default_factory=list)

    def __post_init__(self):
        self.V = self.O + self.E + len(CONCEPTS) + 2
        for s in range(self.D):
            self._add(f"X{s}", self.V, M + 0.5)
            self._add(f"L{s}", self.V, M + 0.5)
        for name in ("A", "B"):
            self._add(name, self.V, M + 0.5)
        self._add("R", self.V, 0.5)
        for name in ("Qo", "Qe"):
            self._add(name, self.O if name == "Qo" else self.E, M + 2.5)
        for name in ("MV", "VS", "QX"):
            self._add(name, self.O, M + 0.5)
        for name in ("CE", "PM", "PS", "PB", "PA", "H"):
            self._add(name, self.E, M + 0.5)
        for name, th in (("K1f", 0.5), ("K1s", 0.5), ("K2s", 1.5), ("Kl", 0.5), ("G", -0.5)):
            self._add(name, self.E, 3 * M + th)
        self._add("Ord", self.E, 0.5)
        self._add("Z", self.O + self.E, M + 1.5)
        self._add("QA", len(CONCEPTS), M + 0.5)
        for name, th in (
            ("EY", M + 0.5),
            ("EN", M - 0.5),
            ("NY", M + 0.5),
            ("NN", M + 0.5),
            ("BY", 0.5),
            ("BN", M - 0.5),
            ("Dbl", 0.5),
            ("CK0", M - 0.5),
            ("CK2", M + 1.5),
            ("ERRK", M + 0.5),
            ("ERR", 0.5),
        ):
            self._add(name, 1, th)
        for g in GATES:
            self._add(f"F_{g}", 1, 0.5)

    def _add(self, name: str, n: int, threshold: float) -> None:
        self.pops[name] = slice(self.size, self.size + n)
        self.size += n
        self.thresholds += [threshold] * n

    def __getitem__(self, name: str) -> slice:
        return self.pops[name]

    def part(self, name: str, kind: str) -> slice:
        """The objects / events / concepts / yes-no part of a V-sized population."""
        O, E, C = self.O, self.E, len(CONCEPTS)
        lo, hi = {"o": (0, O), "e": (O, O + E), "c": (O + E, O + E + C), "y": (O + E + C, self.V)}[kind]
        base = self.pops[name].start
        return slice(base + lo, base + hi)

    def index(self, name: str, offset: int = 0) -> int:
        return self.pops[name].start + offset


def network_weights(g: SceneGraph, lay: Layout) -> Tensor:
    """W[b, pre, post] of every scene of the graph batch: the circuit templates of the module
    docstring, with the Hebbian facts as the weights of their data paths."""
    S = g.present.shape[0]
    W = torch.zeros(S, lay.size, lay.size)
    O, E = lay.O, lay.E

    def link(pre: slice | int, post: slice | int, w) -> None:
        W[:, pre, post] += w

    def diag(pre: slice, post: slice, w: float) -> None:
        n = pre.stop - pre.start
        W[:, pre, post] += w * torch.eye(n)

    def gate(name: str, post: slice | int, w: float | Tensor = M) -> None:
        link(lay.index(f"F_{name}"), post, w)

    for s in range(lay.D):
        X, L = lay[f"X{s}"], lay[f"L{s}"]
        diag(X, X, M + 1)  # self-holding working memory
        diag(X, L, 1)
        diag(L, lay["A"], 1)
        diag(L, lay["B"], 1)
        diag(lay["R"], X, 1)
    for latch in ("A", "B"):
        diag(lay[latch], lay[latch], M + 1)
    diag(lay["R"], lay["R"], 1)
    Ao, Ae, Ay = (lay.part("A", k) for k in "oey")
    Bo, Be, Bc = (lay.part("B", k) for k in "oec")
    Ro, Re, Rc, Ry = (lay.part("R", k) for k in "oecy")
    # generators
    gate("objects", Ro, g.present)
    gate("events", Re, g.world[:, 0])
    gate("unseen_events", Re, g.world[:, 1])
    gate("all_events", Re, g.world[:, 0] + g.world[:, 1])
    gate("ce", lay["CE"])
    link(Ao, lay["CE"], g.world[:, 2:])
    diag(lay["CE"], Re, 1)
    # object filter: Qo = gate + A + predicate (+ HU bias)
    gate("qo", lay["Qo"])
    diag(Ao, lay["Qo"], 1)
    link(Bc, lay["Qo"], g.attr)  # the literal's objects
    for pop in ("MV", "VS"):
        diag(lay[pop], lay["Qo"], 1)
    gate("mv", lay["MV"])
    link(Be, lay["MV"], g.moving_at)
    gate("mvnf", lay["MV"], g.moving_any)
    gate("st", lay["VS"])
    link(Be, lay["VS"], g.visible_at - M * g.moving_at)
    gate("stnf", lay["VS"], g.present - M * g.moving_any)
    diag(lay["Qo"], Ro, 1)
    # event filter: Qe = gate + A + predicates (+ HU bias)
    gate("qe", lay["Qe"])
    diag(Ae, lay["Qe"], 1)
    for k, kind in enumerate(EVENT_KINDS):
        gate(f"kind_{kind}", lay["Qe"], g.kind[:, k])
    for pop in ("PM", "PS", "PB", "PA", "H"):
        diag(lay[pop], lay["Qe"], 1)
    gate("pm", lay["PM"])
    link(Bo, lay["PM"], g.member)
    gate("ps", lay["PS"])
    link(Bo, lay["PS"], g.survives)
    gate("bf", lay["PB"])
    link(Be, lay["PB"], g.before.transpose(1, 2))  # e is before B's event
    gate("af", lay["PA"])
    link(Be, lay["PA"], g.before)
    gate("an", lay["H"])
    link(Be, lay["H"], g.causes.transpose(1, 2))  # e causes B's event ...
    link(lay["H"], lay["H"], g.causes.transpose(1, 2) + (M + 1) * torch.eye(E))  # ... or a found one
    diag(lay["Qe"], Re, 1)
    # ordering
    for pop in ("K1f", "K1s", "K2s", "Kl", "G"):
        gate("ord", lay[pop])
        diag(Ae, lay[pop], M)
    word = {w: lay.index("B", O + E + CONCEPT_INDEX[w]) for w in ORDER_WORDS}
    for pop, words in (("K1f", "first"), ("K1s", "second"), ("K2s", "second"), ("Kl", "last")):
        link(word[words], lay[pop], M)
    link(word["first"], lay["G"], M)
    link(word["last"], lay["G"], M)
    for pop in ("K1f", "K1s", "K2s"):
        link(Ae, lay[pop], g.before)  # active events earlier than e
    link(Ae, lay["Kl"], g.before.transpose(1, 2))  # ... later than e
    diag(lay["G"], lay["Ord"], 1)
    diag(lay["K1s"], lay["Ord"], 1)
    for pop in ("K1f", "K2s", "Kl"):
        diag(lay[pop], lay["Ord"], -M)
    diag(lay["Ord"], Re, 1)
    # queries
    gate("qx", lay["QX"])
    link(Ae, lay["QX"], g.member.transpose(1, 2))
    diag(Bo, lay["QX"], -M)
    diag(lay["QX"], Ro, 1)
    for attr, ids in ATTRIBUTE_CONCEPTS.items():
        link(lay.index(f"F_qa_{attr}"), [lay["QA"].start + i for i in ids], M)
    link(Ao, lay["QA"], g.attr.transpose(1, 2))
    diag(lay["QA"], Rc, 1)
    # booleans
    Z = lay["Z"]
    gate("bl", Z)
    diag(lay.part("A", "o"), slice(Z.start, Z.start + O), 1)
    diag(lay.part("B", "o"), slice(Z.start, Z.start + O), 1)
    diag(Ae, slice(Z.start + O, Z.stop), 1)
    diag(Be, slice(Z.start + O, Z.stop), 1)
    yes, no = Ry.start, Ry.start + 1
    gate("ex", lay["EY"])
    gate("ex", lay["EN"])
    for part in (Ao, Ae):
        link(part, lay["EY"], 1.0)
        link(part, lay["EN"], -M)
    gate("ng", lay["NY"])
    gate("ng", lay["NN"])
    link(Ay.start + 1, lay["NY"], 1.0)
    link(Ay.start, lay["NN"], 1.0)
    gate("bl", lay["Dbl"], 1.0)
    link(Z, lay["BY"], 1.0)
    link(Z, lay["BN"], -M)
    link(lay["Dbl"], lay["BN"], M)
    for pop, target in (("EY", yes), ("NY", yes), ("BY", yes), ("EN", no), ("NN", no), ("BN", no)):
        link(lay[pop], target, 1.0)
    # ill-posed checks and the ERR latch
    for pop in ("CK0", "CK2"):
        gate("ck", lay[pop])
    for part in (Ro, Re):
        link(part, lay["CK0"], -M)
        link(part, lay["CK2"], 1.0)
    gate("qpk", lay["ERRK"])
    not_collision = (
        g.world[:, 0] + g.world[:, 1] + g.world[:, 2:].sum(1) - g.kind[:, EVENT_KINDS.index("collision")]
    )
    link(Ae, lay["ERRK"], not_collision.unsqueeze(-1))
    for pop in ("CK0", "CK2", "ERRK", "ERR"):
        link(lay[pop], lay["ERR"], 1.0)
    return W


# ---------------------------------------------------------------------------------------- program HU


@dataclass
class Stimuli:
    """The program HU's output for Q questions."""

    x: Tensor  # [T, Q, N] input currents
    windows: list[list[tuple[int, int, int]]]  # per question: (onset, compute start, end) per function
    literals: list[int]  # literal instructions per question
    compiled: list[Compiled]
    closure_steps: int


def stack_depth(compiled: Sequence[Compiled]) -> int:
    return max([c.depth for c in compiled if c.error is None] + [1]) + 1


def encode_programs(programs: Sequence[Sequence[str]], lay: Layout, closure_steps: int) -> Stimuli:
    """Designable HU: program tokens -> stimulus currents (ProgramError for an unknown token).
    Statically ill-posed programs get no stimulus."""
    compiled = [compile_program(p) for p in programs]
    plans = [[] for _ in compiled]
    lengths = []
    for q, c in enumerate(compiled):
        t = 0
        for ins in [] if c.error is not None else c.instrs:
            plans[q].append((t, ins))
            if ins.op == "literal":
                t += 1
                continue
            window = COMPUTE_STEPS + (closure_steps if ins.op == "filter_ancestor" else 0)
            t += len(ins.args) + window + 3
        lengths.append(t)
    T = max([*lengths, 1]) + 1
    x = np.zeros((T, len(compiled), lay.size), np.float32)  # numpy: cheap element indexing
    windows, literals = [], []
    for q, plan in enumerate(plans):
        xq, win, n_lit = x[:, q], [], 0
        for t0, ins in plan:
            if ins.op == "literal":
                xq[t0, lay.index(f"X{ins.out}", lay.O + lay.E + CONCEPT_INDEX[ins.literal])] += M + 1
                n_lit += 1
                continue
            a = ins.args[0] if ins.args else ins.out
            n = len(ins.args)
            for k, latch in enumerate("AB"[:n]):
                xq[t0 + k, lay[f"L{ins.args[k]}"]] += M
                xq[t0 + k + 1, lay[latch]] += M
            tc = t0 + n
            window = COMPUTE_STEPS + (closure_steps if ins.op == "filter_ancestor" else 0)
            gates, target, bias = _stimulus(ins)
            for g_name in gates:
                xq[tc : tc + window, lay.index(f"F_{g_name}")] += 1
            for pop in ("Qo", "Qe") if target == "both" else (target,) if target else ():
                xq[tc : tc + window + 1, lay[pop]] += bias
            if ins.op in SINGLE_VALUED:
                xq[tc + window, lay.index("F_ck")] += 1
            tw = tc + window + 1
            for s in (a, a + 1):
                if s < lay.D:
                    xq[tw, lay[f"X{s}"]] -= 4 * M
            xq[tw + 1, lay[f"X{ins.out}"]] += M
            for pop in ("A", "B", "R", "H"):
                xq[tw + 2, lay[pop]] -= 4 * M
            win.append((t0, tc, tw + 2))
        windows.append(win)
        literals.append(n_lit)
    return Stimuli(torch.from_numpy(x), windows, literals, compiled, closure_steps)


def _stimulus(ins) -> tuple[tuple[str, ...], str | None, float]:
    op, with_arg = ins.op, len(ins.args) == 2
    if op in KIND_OF:
        gates = ("qe", KIND_OF[op]) + (("pm",) if with_arg else ())
        return gates, "Qe", 0 if with_arg else 1
    if op in ("filter_moving", "filter_stationary"):
        base = "mv" if op == "filter_moving" else "st"
        return ("qo", base) + (() if with_arg else (f"{base}nf",)), "Qo", 1
    return _STIMULI[op]


# ------------------------------------------------------------------------------------------- reasoner


@dataclass
class ReasonerOutput:
    answers: list[str]
    time_steps: list[int]  # steps to stable per question, measured from the spikes
    neurons: list[int]  # per question: the size of its scene's network
    simulated_neurons: list[int]  # per question: the neurons its scene's stimuli can make fire
    ill_posed: list[bool]  # the ERR latch fired (or the program HU refused the program)
    simulated_steps: list[int]  # per question: the length of its scene's stimulus sequence


def can_fire(x: Tensor, weight: Tensor, thresholds: Tensor) -> Tensor:
    """[N] bool: the neurons that can ever fire under the stimuli x [T, Q, N] with decay 0. Then a
    neuron's current at a step is its stimulus plus the weights from the neurons that fired the step
    before, so it is at most max_t x_t + the positive weights from every neuron that can fire; the
    least set closed under that bound holds every neuron that fires. The others never fire: leaving
    them out of the simulation changes no spike (the weights are small integers, so the sums are
    exact either way)."""
    bound = x.amax((0, 1))
    positive = weight.clamp(min=0)
    live = torch.zeros_like(bound, dtype=torch.bool)
    new = bound >= thresholds
    while new.any():
        live |= new
        bound += positive[new].sum(0)
        new = (bound >= thresholds) & ~live
    return live


def _simulate(x: Tensor, weight: Tensor, thresholds: Tensor) -> tuple[Tensor, int]:
    """Spikes [T, Q, N] of the network under x, simulated on the neurons that can fire; and how
    many those are."""
    live = torch.nonzero(can_fire(x, weight, thresholds)).flatten()
    spikes = torch.zeros_like(x)
    spikes[:, :, live], _ = ops.lif_recurrent(
        x[:, :, live].contiguous(),
        weight[live][:, live].contiguous(),
        decay=0.0,
        threshold=thresholds[live],
        reset="hard",
    )
    return spikes, len(live)


class SpikingReasoner:
    """Answers programs over videos with the recurrent network of the module docstring."""

    def __call__(
        self,
        programs: Sequence[Sequence[str]],
        scenes: Sequence[Scene | World],
        scene_of: Sequence[int] | None = None,
    ) -> ReasonerOutput:
        """programs[q] is asked about scenes[scene_of[q]] (default: scene q). Each scene's questions
        are the samples of one lif_recurrent call with the scene's network as the shared weight: the
        per-step product is then one matrix product that reads the weights once for all of them
        (one weight per question would read them once per question and step)."""
        scene_of = list(range(len(programs))) if scene_of is None else [int(s) for s in scene_of]
        Q = len(programs)
        out = ReasonerOutput([""] * Q, [0] * Q, [0] * Q, [0] * Q, [False] * Q, [0] * Q)
        by_scene: dict[int, list[int]] = {}
        for q, s in enumerate(scene_of):
            by_scene.setdefault(s, []).append(q)
        for s, qs in by_scene.items():
            world = scenes[s] if isinstance(scenes[s], World) else World(scenes[s])
            part = _answer_scene([programs[q] for q in qs], world)
            for name, values in vars(part).items():
                for q, v in zip(qs, values):
                    getattr(out, name)[q] = v
        return out


def _answer_scene(programs: Sequence[Sequence[str]], world: World) -> ReasonerOutput:
    graph = build_graphs([world])
    compiled = [compile_program(p) for p in programs]
    lay = Layout(graph.num_objects, graph.num_events, stack_depth(compiled))
    stim = encode_programs(programs, lay, _time_ranks(world) + 1)
    spikes, live = _simulate(stim.x, network_weights(graph, lay)[0], torch.tensor(lay.thresholds))
    final = spikes[-1, :, lay["X0"]]
    err = spikes[:, :, lay.index("ERR")].amax(0) > 0
    r = spikes[:, :, lay["R"]]
    r_changes = torch.cat([r[:1].any(-1), (r[1:] != r[:-1]).any(-1)])  # [T, Q]
    steps = []
    for q in range(len(programs)):
        n = stim.literals[q]
        for t0, tc, end in stim.windows[q]:
            changed = torch.nonzero(r_changes[t0:end, q]).flatten()
            settle = int(changed[changed < end - 2 - t0].max()) + 1 if len(changed) else tc - t0
            n += settle + 2  # until R is stable, then clear and write
        steps.append(n)
    Q = len(programs)
    return ReasonerOutput(
        answers=[_read(final[q], c, lay) for q, c in enumerate(compiled)],
        time_steps=steps,
        neurons=[lay.size] * Q,
        simulated_neurons=[live] * Q,
        ill_posed=[c.error is not None or bool(err[q]) for q, c in enumerate(compiled)],
        simulated_steps=[stim.x.shape[0]] * Q,
    )


def _time_ranks(w: World) -> int:
    """Distinct event times of the world with the most: the longest possible chain of causes."""
    return max(
        [len({w.events[e].frame for e in range(len(w.events)) if w.group[e] == g}) for g in set(w.group)]
        + [1]
    )


def _read(final: Tensor, compiled: Compiled, lay: Layout) -> str:
    if compiled.error is not None:
        return ILL_POSED
    O, E, C = lay.O, lay.E, len(CONCEPTS)
    obj, evt, con, yn = final[:O], final[O : O + E], final[O + E : O + E + C], final[O + E + C :]
    kind = compiled.out_type
    if kind == BOOL:
        return {(1, 0): "yes", (0, 1): "no"}.get((int(yn[0]), int(yn[1])), ILL_POSED)
    if kind == INT:
        return str(int(obj.sum() + evt.sum()))
    if kind == LIT:
        attr = compiled.instrs[-1].op[len("query_") :]
        hit = [i for i in ATTRIBUTE_CONCEPTS.get(attr, range(C)) if con[i] > 0]
        return CONCEPTS[hit[0]] if len(hit) == 1 else ILL_POSED
    hits = torch.nonzero(obj if kind == OBJ else evt).flatten()
    if kind in (OBJ, EVT, FRAME) and len(hits) == 1:
        return f"{'object' if kind == OBJ else 'event'} {int(hits[0])}"
    return ILL_POSED
