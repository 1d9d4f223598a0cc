"""HRN: scene loading, the symbolic executor on a hand-built scene, the Hebbian construction, and the
spiking reasoner against the executor."""

import gzip
import json

import numpy as np
import pytest
import torch

from hnn_fast.networks.hrn.construction import CONCEPT_INDEX, build_graphs, hebbian, hebbian_order
from hnn_fast.networks.hrn.executor import ILL_POSED, ProgramError, World, compile_program, execute
from hnn_fast.networks.hrn.questions import generate_questions, load_questions, save_questions
from hnn_fast.networks.hrn.reasoner import SpikingReasoner
from hnn_fast.networks.hrn.scenes import (
    NUM_FRAMES,
    Collision,
    Scene,
    SceneFormatError,
    SceneObject,
    default_scene_file,
    generate_scenes,
    load_scenes,
    parse_scene,
    scene_record,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def hand_scene() -> Scene:
    """0 red metal cube (still), 1 blue rubber sphere (moving from the start), 2 green metal cylinder
    (starts moving at frame 50), 3 red rubber sphere (enters at frame 20, leaves after frame 95).
    Collisions: 0-1 at 40, 1-2 at 60, 0-2 at 150 (unseen)."""
    objects = [
        SceneObject(0, "red", "metal", "cube"),
        SceneObject(1, "blue", "rubber", "sphere"),
        SceneObject(2, "green", "metal", "cylinder"),
        SceneObject(3, "red", "rubber", "sphere"),
    ]
    pos = np.full((NUM_FRAMES, 4, 2), np.nan)
    rows = np.arange(NUM_FRAMES)
    pos[:, 0] = (50, 50)
    pos[:, 1, 0] = pos[:, 1, 1] = 3.0 * rows
    pos[:, 2, 0] = 100 + 2.0 * np.maximum(rows - 10, 0)
    pos[:, 2, 1] = 100
    pos[4:20, 3] = (150, 20)
    collisions = [Collision(40, (0, 1)), Collision(60, (1, 2)), Collision(150, (0, 2))]
    counterfactuals = {0: [Collision(70, (1, 2))], 1: [], 2: [Collision(40, (0, 1))], 3: list(collisions)}
    return Scene(7, objects, pos, collisions, counterfactuals)


def obj(*words):
    kinds = {
        "red": "color",
        "blue": "color",
        "green": "color",
        "metal": "material",
        "rubber": "material",
        "cube": "shape",
        "sphere": "shape",
        "cylinder": "shape",
    }
    program = ["objects"]
    for w in words:
        program += [w, f"filter_{kinds[w]}"]
    return [*program, "unique"]


HAND_CASES = [
    (["objects", "count"], "4"),
    (["events", "filter_collision", "count"], "2"),
    (["unseen_events", "count"], "1"),
    (["all_events", "filter_collision", "count"], "3"),
    (["objects", "red", "filter_color", "count"], "2"),
    (["objects", "red", "filter_color", "unique", "query_shape"], ILL_POSED),  # two red objects
    (["events", "filter_in", "first", "filter_order", "query_object", "query_color"], "red"),
    (["events", "filter_in", "second", "filter_order", "query_object", "query_color"], ILL_POSED),
    (["events", "filter_out", "count"], "1"),
    (["events", *obj("red", "sphere"), "filter_out", "exist"], "yes"),
    (["objects", "filter_stationary", "count"], "2"),
    (["objects", "events", "filter_start", "unique", "query_frame", "filter_moving", "count"], "1"),
    (["objects", "events", "filter_end", "unique", "query_frame", "filter_moving", "count"], "2"),
    # at the end object 3 is gone: it is neither moving nor stationary then
    (["objects", "events", "filter_end", "unique", "query_frame", "filter_stationary", "count"], "1"),
    (
        [
            "events",
            *obj("blue"),
            "filter_collision",
            "first",
            "filter_order",
            *obj("blue"),
            "query_collision_partner",
            "query_shape",
        ],
        "cube",
    ),
    (
        [
            "events",
            *obj("blue"),
            "filter_collision",
            "last",
            "filter_order",
            *obj("blue"),
            "query_collision_partner",
            "query_material",
        ],
        "metal",
    ),
    (["events", *obj("blue"), "filter_collision", "first", "filter_order", "query_object"], ILL_POSED),
    (
        [
            "events",
            "filter_collision",
            "events",
            *obj("cube"),
            "filter_collision",
            "unique",
            "filter_after",
            "count",
        ],
        "1",
    ),
    (
        [
            "events",
            "filter_collision",
            "events",
            *obj("green"),
            "filter_collision",
            "unique",
            "filter_before",
            "count",
        ],
        "1",
    ),
    (["events", "events", *obj("green"), "filter_collision", "unique", "filter_ancestor", "count"], "1"),
    (
        [
            "events",
            "events",
            *obj("green"),
            "filter_collision",
            "unique",
            "filter_ancestor",
            *obj("cube"),
            "filter_collision",
            "exist",
        ],
        "yes",
    ),
    (
        [
            "events",
            *obj("red", "sphere"),
            "filter_in",
            "unique",
            "events",
            "events",
            *obj("green"),
            "filter_collision",
            "unique",
            "filter_ancestor",
            "belong_to",
        ],
        "no",
    ),
    (
        [
            "events",
            *obj("cube"),
            "filter_collision",
            "unique",
            "events",
            "events",
            *obj("green"),
            "filter_collision",
            "unique",
            "filter_ancestor",
            "belong_to",
        ],
        "yes",
    ),
    (
        [
            "all_events",
            *obj("cube"),
            "filter_collision",
            *obj("green"),
            "filter_collision",
            "unique",
            "query_frame",
            "query_object",
        ],
        ILL_POSED,
    ),
    (
        [
            *obj("cube"),
            "counterfact_events",
            *obj("blue"),
            "filter_collision",
            *obj("green"),
            "filter_collision",
            "exist",
        ],
        "yes",
    ),
    ([*obj("blue"), "counterfact_events", "count"], "0"),
    (["events", "filter_collision", *obj("blue"), "filter_counterfact", "count"], "0"),
    (["events", "filter_collision", *obj("red", "sphere"), "filter_counterfact", "count"], "2"),
    ([*obj("cube"), "objects", "filter_moving", "belong_to", "negate"], "yes"),
    (["objects", "metal", "filter_material", "filter_moving", "count"], "1"),
    (["objects", "red", "filter_shape"], ILL_POSED),  # a colour where a shape belongs
    (["objects", "filter_order"], ILL_POSED),
    (["objects", "objects"], ILL_POSED),
]


@pytest.mark.parametrize("program,expected", HAND_CASES)
def test_executor_hand_scene(program, expected):
    assert execute(program, hand_scene()) == expected


def test_executor_reason_and_unknown_token():
    answer, why = execute(["objects", "unique"], hand_scene(), reason=True)
    assert answer == ILL_POSED and "unique over 4" in why
    with pytest.raises(ProgramError, match="'filter_colour'"):
        execute(["objects", "red", "filter_colour"], hand_scene())
    with pytest.raises(ProgramError, match="list of tokens"):
        compile_program("objects count")


def test_reasoner_matches_executor_on_hand_scene():
    scene = hand_scene()
    programs = [p for p, e in HAND_CASES if e != ILL_POSED]
    out = SpikingReasoner()(programs, [scene], [0] * len(programs))
    expected = [e for _, e in HAND_CASES if e != ILL_POSED]
    assert out.answers == expected
    assert all(n >= len(compile_program(p).instrs) for n, p in zip(out.time_steps, programs))


def test_reasoner_flags_ill_posed_programs():
    # two red objects: unique's single-value check fires the ERR latch; both materials then fire,
    # so the readout has no single answer
    out = SpikingReasoner()(
        [["objects", "red", "filter_color", "unique", "query_material"], ["objects", "red", "filter_shape"]],
        [hand_scene()],
        [0, 0],
    )
    assert out.ill_posed == [True, True]
    assert out.answers[0] == ILL_POSED
    assert out.answers[1] == ILL_POSED  # statically ill-posed: the program HU refuses it


def test_hebbian_rules():
    pre = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]], [[1.0, 0.0]]])  # [T=3, B=1, 2]
    post = torch.tensor([[[1.0, 0.0, 1.0]], [[0.0, 1.0, 0.0]], [[0.0, 0.0, 1.0]]])
    assert hebbian(pre, post, eta=0.5)[0].tolist() == [[0.5, 0.0, 1.0], [0.0, 0.5, 0.0]]
    spikes = torch.tensor([[[1.0, 0.0, 0.0]], [[0.0, 1.0, 1.0]], [[0.0, 0.0, 0.0]]])  # 0 before 1 and 2
    order = hebbian_order(spikes)[0]
    assert order.tolist() == [[0.0, 1.0, 1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]  # simultaneous: no link


def test_hebbian_construction_of_scene_graph():
    scene = hand_scene()
    world = World(scene)
    g = build_graphs([world, World(generate_scenes(1)[0])])
    attr = g.attr[0]
    for o in scene.objects:
        for kind in ("color", "material", "shape"):
            assert attr[CONCEPT_INDEX[o.attribute(kind)], o.id] == 1
    assert attr[:, :4].sum().item() == 12  # nothing else is linked
    n = len(world.events)
    assert torch.equal(g.before[0, :n, :n].bool(), torch.from_numpy(world.before))
    assert torch.equal(g.causes[0, :n, :n].bool(), torch.from_numpy(world.causes))
    assert torch.equal(g.member[0, :4, :n].bool(), torch.from_numpy(world.membership()))
    assert g.moving_any[0, :4].tolist() == [0, 1, 1, 0]
    assert g.present[0, :4].tolist() == [1, 1, 1, 1] and g.present[0, 4:].sum() == 0  # padding stays silent


def _scenes(source: str, n: int):
    if source == "generated":
        return generate_scenes(n, seed=3)
    path = default_scene_file()
    if path is None:
        pytest.skip("shared CLEVRER scene file not present")
    return load_scenes(path, limit=n)


@pytest.mark.parametrize("source", ["generated", "perceived"])
def test_reasoner_matches_executor_on_generated_questions(source):
    """Well-posed items: the same answer as the executor. Items the executor finds ill-posed: the ERR
    latch fires (the answer read beside it is scored apart, as the evaluation does), and it fires on no
    well-posed item."""
    scenes = _scenes(source, 6)
    questions = generate_questions(scenes, per_scene=10, seed=11)
    kinds = {q.question_type for q in questions}
    assert {"descriptive", "explanatory", "counterfactual"} <= kinds
    where = {s.scene_index: k for k, s in enumerate(scenes)}
    programs, expected, scene_of = [], [], []
    for q in questions:
        for program, answer in q.items():
            programs.append(program)
            expected.append(answer)
            scene_of.append(where[q.scene_index])
    out = SpikingReasoner()(programs, scenes, scene_of)
    raw = [
        {"yes": "correct", "no": "wrong"}[a] if e in ("correct", "wrong") else a
        for a, e in zip(out.answers, expected)
    ]
    flags = [(p, e, f) for p, e, f in zip(programs, expected, out.ill_posed) if (e == ILL_POSED) != f]
    assert not flags, flags[:5]
    mismatches = [(p, e, a) for p, e, a in zip(programs, expected, raw) if e != ILL_POSED and e != a]
    assert not mismatches, mismatches[:5]


def test_scene_file_round_trip_and_errors(tmp_path):
    scenes = generate_scenes(3, seed=5)
    path = tmp_path / "scenes.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        for s in scenes:
            fh.write(json.dumps(scene_record(s)) + "\n")
    loaded = load_scenes(path)
    assert [s.scene_index for s in loaded] == [0, 1, 2]
    for a, b in zip(scenes, loaded):
        assert a.collisions == b.collisions and a.counterfactuals == b.counterfactuals
        assert [e for e in World(a).events] == [e for e in World(b).events]
    assert [s.scene_index for s in load_scenes(path, indices=[2])] == [2]
    with pytest.raises(SceneFormatError, match="does not exist"):
        load_scenes(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"scene_index": 1, "objects": []}\n')
    with pytest.raises(SceneFormatError, match="line 1"):
        load_scenes(bad)
    record = scene_record(scenes[0])
    record["objects"][0]["color"] = "pink"
    with pytest.raises(SceneFormatError, match="unknown attributes"):
        parse_scene(record)


def test_real_scene_events():
    path = default_scene_file()
    if path is None:
        pytest.skip("shared CLEVRER scene file not present")
    scene = load_scenes(path, limit=1)[0]  # video 10000
    world = World(scene)
    seen = [(e.kind, e.frame) for e in world.events[: len(world.seen)]]
    assert seen[0] == ("start", 0) and seen[-1] == ("end", 127)
    assert ("collision", 30) in seen and ("collision", 85) in seen
    assert [e.frame for e in scene.unseen_events()] == [145]
    # PropNet reports one contact on consecutive frames; the loader merges them
    assert len(scene.counterfactuals[0]) == 3


def test_questions_file_round_trip(tmp_path):
    scenes = generate_scenes(2, seed=2)
    questions = generate_questions(scenes, per_scene=5, seed=0)
    path = tmp_path / "q.json"
    save_questions(questions, path)
    data = json.loads(path.read_text())
    assert {"scene_index", "questions"} <= set(data[0])
    back = load_questions(path)
    assert [(q.question, q.program, q.answer) for q in back] == [
        (q.question, q.program, q.answer) for q in questions
    ]
    for q in back:
        for program, answer in q.items():
            got = execute(program, scenes[q.scene_index])
            assert (got if not q.choices else {"yes": "correct", "no": "wrong"}[got]) == answer


def test_abnormal_data_and_graceful_degradation():
    import random

    from hnn_fast.networks.hrn.evaluation import inject_collisions, relax_threshold

    scene = hand_scene()
    assert relax_threshold(scene, 0) is scene
    flooded = inject_collisions(scene, 1.0, random.Random(0))
    pairs = {c.objects for c in flooded.collisions}
    assert pairs == {(i, j) for i in range(4) for j in range(i + 1, 4)}
    assert len(flooded.counterfactuals[0]) >= 3  # the pairs without object 0
    close = relax_threshold(scene, 60.0)  # a loose detector reports contacts that never happened
    assert len(close.collisions) > len(scene.collisions)
    # a second collision of the same pair makes the executor's `unique` fail; the reasoner answers
    doubled = scene.with_collisions([*scene.collisions, Collision(100, (1, 2))])
    program = [
        "events",
        "events",
        *obj("blue"),
        "filter_collision",
        *obj("green"),
        "filter_collision",
        "unique",
        "filter_ancestor",
        *obj("cube"),
        "filter_collision",
        "exist",
    ]
    assert execute(program, doubled) == ILL_POSED
    assert SpikingReasoner()([program], [doubled]).answers == ["yes"]
