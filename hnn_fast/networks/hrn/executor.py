"""Programs in the NS-DR postfix vocabulary, their static compilation, and the symbolic executor that
gives the ground-truth answers.

A program is a list of tokens read left to right: a literal (a colour, material, shape or order
word) is pushed; a function pops its arguments (the last one from the top) and pushes its result. The
function set, argument types and results:

    objects, events, unseen_events, all_events        -> a set (of objects / events)
    counterfact_events(object)                        -> the collisions of the world without it
    unique(set) -> one element; count(set) -> int; exist(set) -> bool; negate(bool) -> bool
    belong_to(element, set) -> bool
    filter_color / material / shape(objects, literal) -> objects
    filter_moving / stationary(objects[, frame])      -> objects (without a frame: at any seen frame)
    filter_start / end(events)                        -> events
    filter_in / out / collision(events[, object])     -> events (of that object)
    filter_order(events, first|second|last)           -> event
    filter_before / after(events, event)              -> events strictly earlier / later
    filter_ancestor(events, event)                    -> events among the causes of the event
    filter_counterfact(events, object)                -> collisions whose pair still collides without it
    query_color / material / shape(object) -> literal; query_frame(event) -> frame
    query_object(event) -> object (of an in/out event); query_collision_partner(event, object) -> object

An optional argument is taken when the value on top of the stack has its type. A program whose types
do not fit is ill-posed statically; one is ill-posed on a scene when `unique` sees not exactly one
element, `filter_order` hits a tie or too few events, `query_object` gets a collision or
`query_collision_partner` an event without the object. Ill-posed programs answer `ILL_POSED`;
unknown tokens raise ProgramError.

Causes (NS-DR's ancestry): event a directly causes b when a happens strictly earlier in the same world
and they share an object; ancestors are the transitive closure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .scenes import COLORS, MATERIALS, SHAPES, Event, Scene, frame_row

ILL_POSED = "error"
ORDERS = ("first", "second", "last")
LITERALS = {
    **{c: "color" for c in COLORS},
    **{m: "material" for m in MATERIALS},
    **{s: "shape" for s in SHAPES},
    **{o: "order" for o in ORDERS},
}

OBJS, OBJ, EVTS, EVT, FRAME, BOOL, INT, LIT = (
    "objects",
    "object",
    "events",
    "event",
    "frame",
    "bool",
    "int",
    "literal",
)

# name -> (argument specs bottom to top: (accepted types, optional), result type or None = by input)
FUNCTIONS: dict[str, tuple[tuple[tuple[frozenset, bool], ...], str | None]] = {}


def _fn(name: str, args: Sequence[tuple[Sequence[str], bool]], result: str | None) -> None:
    FUNCTIONS[name] = (tuple((frozenset(t), opt) for t, opt in args), result)


_fn("objects", [], OBJS)
_fn("events", [], EVTS)
_fn("unseen_events", [], EVTS)
_fn("all_events", [], EVTS)
_fn("counterfact_events", [([OBJ], False)], EVTS)
_fn("unique", [([OBJS, EVTS], False)], None)
_fn("count", [([OBJS, EVTS], False)], INT)
_fn("exist", [([OBJS, EVTS], False)], BOOL)
_fn("negate", [([BOOL], False)], BOOL)
_fn("belong_to", [([OBJ, EVT], False), ([OBJS, EVTS], False)], BOOL)
for _kind in ("color", "material", "shape"):
    _fn(f"filter_{_kind}", [([OBJS], False), ([LIT], False)], OBJS)
    _fn(f"query_{_kind}", [([OBJ], False)], LIT)
_fn("filter_moving", [([OBJS], False), ([FRAME], True)], OBJS)
_fn("filter_stationary", [([OBJS], False), ([FRAME], True)], OBJS)
_fn("filter_start", [([EVTS], False)], EVTS)
_fn("filter_end", [([EVTS], False)], EVTS)
for _kind in ("in", "out", "collision"):
    _fn(f"filter_{_kind}", [([EVTS], False), ([OBJ], True)], EVTS)
_fn("filter_order", [([EVTS], False), ([LIT], False)], EVT)
_fn("filter_before", [([EVTS], False), ([EVT], False)], EVTS)
_fn("filter_after", [([EVTS], False), ([EVT], False)], EVTS)
_fn("filter_ancestor", [([EVTS], False), ([EVT], False)], EVTS)
_fn("filter_counterfact", [([EVTS], False), ([OBJ], False)], EVTS)
_fn("query_frame", [([EVT], False)], FRAME)
_fn("query_object", [([EVT], False)], OBJ)
_fn("query_collision_partner", [([EVT], False), ([OBJ], False)], OBJ)

# which literal category a function's literal argument must have
_LITERAL_KIND = {
    "filter_color": "color",
    "filter_material": "material",
    "filter_shape": "shape",
    "filter_order": "order",
}


class ProgramError(ValueError):
    """A program token that is neither a function nor a literal of the vocabulary."""


class IllPosed(Exception):
    """Raised inside execution; turned into the ILL_POSED answer."""


@dataclass(frozen=True)
class Instr:
    op: str  # a function name, or "literal"
    args: tuple[int, ...]  # stack slots read, bottom to top
    out: int  # stack slot written
    out_type: str
    literal: str | None = None


@dataclass(frozen=True)
class Compiled:
    instrs: tuple[Instr, ...]
    out_type: str | None
    error: str | None  # why the program is statically ill-posed

    @property
    def depth(self) -> int:
        return 1 + max([i.out for i in self.instrs] + [a for i in self.instrs for a in i.args], default=0)


def compile_program(program: Sequence[str]) -> Compiled:
    """Types and stack slots of each instruction; the designable HU and the executor share this."""
    if isinstance(program, str) or not isinstance(program, Sequence):
        raise ProgramError(f"program must be a list of tokens, got {type(program).__name__}")
    stack: list[tuple[str, str | None]] = []  # (type, literal category)
    instrs: list[Instr] = []
    error = None
    for pos, token in enumerate(program):
        if not isinstance(token, str):
            raise ProgramError(f"program token {pos} is {token!r}, not a string")
        if token in LITERALS:
            instrs.append(Instr("literal", (), len(stack), LIT, token))
            stack.append((LIT, LITERALS[token]))
            continue
        if token not in FUNCTIONS:
            raise ProgramError(f"unknown program token {token!r} at position {pos}")
        if error is not None:
            continue
        specs, result = FUNCTIONS[token]
        taken: list[tuple[str, str | None]] = []
        for types, optional in reversed(specs):
            if stack and stack[-1][0] in types:
                taken.append(stack.pop())
            elif not optional:
                error = f"{token} at position {pos}: expected {'/'.join(sorted(types))}"
                break
        if error is not None:
            continue
        taken.reverse()
        kind = _LITERAL_KIND.get(token)
        if kind is not None and taken[-1][1] != kind:
            error = f"{token} at position {pos}: needs a {kind} word"
            continue
        base = len(stack)
        out_type = result or (OBJ if taken[0][0] == OBJS else EVT)
        instrs.append(Instr(token, tuple(range(base, base + len(taken))), base, out_type))
        stack.append((out_type, None))
    if error is None and len(stack) != 1:
        error = f"program leaves {len(stack)} values on the stack, not 1"
    return Compiled(tuple(instrs), stack[0][0] if error is None else None, error)


# -------------------------------------------------------------------------------------------- the world


class World:
    """Everything a program may ask about one scene, with every event of every world numbered once:
    the seen events, the unseen (predicted) collisions, and the collisions of each counterfactual
    world. The reasoner's event neurons are these events."""

    def __init__(self, scene: Scene):
        self.scene = scene
        self.events: list[Event] = []
        self.group: list[int] = []  # 0: the factual world (seen and unseen); k + 1: without object k
        self.seen = self._add(scene.seen_events(), 0)
        self.unseen = self._add(scene.unseen_events(), 0)
        self.counterfact = {
            k: self._add(scene.counterfact_events(k), k + 1) for k in range(scene.num_objects)
        }
        self.moving_any = scene.moving()
        frames = np.array([e.frame for e in self.events])
        rows = [frame_row(f) for f in frames]
        self.moving_at = (
            np.stack([scene.moving(r) for r in rows]) if rows else np.zeros((0, scene.num_objects), bool)
        )
        self.visible_at = scene.visible()[rows] if rows else np.zeros((0, scene.num_objects), bool)
        group = np.array(self.group)
        same = group[:, None] == group[None, :]
        self.before = same & (frames[:, None] < frames[None, :])  # before[a, b]: a strictly earlier than b
        members = self.membership()
        shares = (members.T.astype(int) @ members.astype(int)) > 0
        self.causes = self.before & shares  # direct cause
        self.ancestors = self._closure(self.causes)
        self.cf_pairs = np.zeros((scene.num_objects, len(self.events)), bool)
        for k in range(scene.num_objects):
            pairs = {self.events[i].objects for i in self.counterfact[k]}
            for i, e in enumerate(self.events):
                self.cf_pairs[k, i] = e.kind == "collision" and e.objects in pairs

    def _add(self, events: list[Event], group: int) -> tuple[int, ...]:
        start = len(self.events)
        self.events += events
        self.group += [group] * len(events)
        return tuple(range(start, len(self.events)))

    def membership(self) -> np.ndarray:
        """[N, E] bool: object takes part in event."""
        m = np.zeros((self.scene.num_objects, len(self.events)), bool)
        for i, e in enumerate(self.events):
            m[list(e.objects), i] = True
        return m

    @staticmethod
    def _closure(direct: np.ndarray) -> np.ndarray:
        reach = direct.copy()
        while True:
            grown = reach | ((reach.astype(int) @ direct.astype(int)) > 0)
            if (grown == reach).all():
                return reach
            reach = grown


# --------------------------------------------------------------------------------------------- executor


def _unique(values: tuple) -> int:
    if len(values) != 1:
        raise IllPosed(f"unique over {len(values)} elements")
    return values[0]


def _order(world: World, events: tuple[int, ...], order: str) -> int:
    frames = sorted(world.events[e].frame for e in events)
    pos = {"first": 0, "second": 1, "last": len(frames) - 1}[order]
    if not 0 <= pos < len(frames):
        raise IllPosed(f"filter_order {order} over {len(frames)} events")
    if frames.count(frames[pos]) > 1:
        raise IllPosed(f"filter_order {order}: a tie at frame {frames[pos]}")
    return next(e for e in events if world.events[e].frame == frames[pos])


def _apply(world: World, op: str, a: list):
    scene = world.scene
    objects = scene.objects
    if op == "objects":
        return tuple(range(scene.num_objects))
    if op == "events":
        return world.seen
    if op == "unseen_events":
        return world.unseen
    if op == "all_events":
        return world.seen + world.unseen
    if op == "counterfact_events":
        return world.counterfact[a[0]]
    if op == "unique":
        return _unique(a[0])
    if op == "count":
        return len(a[0])
    if op == "exist":
        return len(a[0]) > 0
    if op == "negate":
        return not a[0]
    if op == "belong_to":
        return a[0] in a[1]
    if op.startswith("filter_") and op[7:] in ("color", "material", "shape"):
        return tuple(o for o in a[0] if objects[o].attribute(op[7:]) == a[1])
    if op in ("filter_moving", "filter_stationary"):
        if len(a) == 2:
            moving, present = world.moving_at[a[1]], world.visible_at[a[1]]
        else:
            moving, present = world.moving_any, np.ones(scene.num_objects, bool)
        keep = moving if op == "filter_moving" else present & ~moving
        return tuple(o for o in a[0] if keep[o])
    if op in ("filter_start", "filter_end", "filter_in", "filter_out", "filter_collision"):
        kind = op[7:]
        return tuple(
            e
            for e in a[0]
            if world.events[e].kind == kind and (len(a) == 1 or a[1] in world.events[e].objects)
        )
    if op == "filter_order":
        return _order(world, a[0], a[1])
    if op == "filter_before":
        return tuple(e for e in a[0] if world.before[e, a[1]])
    if op == "filter_after":
        return tuple(e for e in a[0] if world.before[a[1], e])
    if op == "filter_ancestor":
        return tuple(e for e in a[0] if world.ancestors[e, a[1]])
    if op == "filter_counterfact":
        return tuple(e for e in a[0] if world.cf_pairs[a[1], e])
    if op.startswith("query_") and op[6:] in ("color", "material", "shape"):
        return objects[a[0]].attribute(op[6:])
    if op == "query_frame":
        return a[0]
    if op == "query_object":
        event = world.events[a[0]]
        if event.kind not in ("in", "out"):
            raise IllPosed(f"query_object of a {event.kind} event")
        return event.objects[0]
    if op == "query_collision_partner":
        event = world.events[a[0]]
        if event.kind != "collision" or a[1] not in event.objects:
            raise IllPosed("query_collision_partner: the object is not in that collision")
        return event.objects[1] if event.objects[0] == a[1] else event.objects[0]
    raise AssertionError(op)


def format_answer(value, out_type: str) -> str:
    if out_type == BOOL:
        return "yes" if value else "no"
    if out_type == INT:
        return str(int(value))
    if out_type == LIT:
        return str(value)
    if out_type == OBJ:
        return f"object {value}"
    if out_type in (EVT, FRAME):
        return f"event {value}"
    return ",".join(map(str, value))


def execute(program: Sequence[str], scene: Scene | World, *, reason: bool = False):
    """The answer of a program on a scene (a string; ILL_POSED when ill-posed). With reason=True,
    returns (answer, why it is ill-posed or None)."""
    world = scene if isinstance(scene, World) else World(scene)
    compiled = compile_program(program)
    if compiled.error is not None:
        return (ILL_POSED, compiled.error) if reason else ILL_POSED
    values: dict[int, object] = {}
    try:
        for ins in compiled.instrs:
            if ins.op == "literal":
                values[ins.out] = ins.literal
            else:
                values[ins.out] = _apply(world, ins.op, [values[s] for s in ins.args])
    except IllPosed as exc:
        return (ILL_POSED, str(exc)) if reason else ILL_POSED
    answer = format_answer(values[0], compiled.out_type)
    return (answer, None) if reason else answer


def choice_answer(answer: str) -> str:
    """A multiple-choice option's answer from its program's yes/no."""
    return {"yes": "correct", "no": "wrong"}.get(answer, ILL_POSED)
