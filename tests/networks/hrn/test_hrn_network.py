"""HRN: the recurrent reasoner network: ill-posed flags from its ERR latch, CLEVRER's official
multiple-choice layout, measured steps to stable, the fused op against the reference loop, and the
simulation restricted to the neurons that can fire."""

import pytest
import torch

from hnn_fast import ops
from hnn_fast.networks.hrn.construction import build_graphs
from hnn_fast.networks.hrn.executor import ILL_POSED, World, compile_program, execute
from hnn_fast.networks.hrn.questions import Choice, Question
from hnn_fast.networks.hrn.reasoner import (
    Layout,
    SpikingReasoner,
    _simulate,
    _time_ranks,
    can_fire,
    encode_programs,
    network_weights,
    stack_depth,
)

from .test_hrn import HAND_CASES, hand_scene, obj

pytestmark = pytest.mark.usefixtures("one_thread")


def test_err_latch_flags_exactly_the_executors_ill_posed_programs():
    programs = [p for p, _ in HAND_CASES]
    out = SpikingReasoner()(programs, [hand_scene()], [0] * len(programs))
    assert out.ill_posed == [e == ILL_POSED for _, e in HAND_CASES]
    assert [a for a, (_, e) in zip(out.answers, HAND_CASES) if e != ILL_POSED] == [
        e for _, e in HAND_CASES if e != ILL_POSED
    ]


def test_official_layout_options_join_with_belong_to():
    target = ["events", *obj("green"), "filter_collision", "unique"]
    question = Question(7, 0, "", "explanatory", ["events", *target, "filter_ancestor"], None, [])
    blue_cube = ["events", *obj("blue"), "filter_collision", *obj("cube"), "filter_collision", "unique"]
    red_in = ["events", *obj("red", "sphere"), "filter_in", "unique"]
    question.choices = [Choice(0, "", blue_cube, "correct"), Choice(1, "", red_in, "wrong")]
    items = question.items()
    assert items[0][0] == [*blue_cube, *question.program, "belong_to"]
    scene = hand_scene()
    assert [execute(p, scene) for p, _ in items] == ["yes", "no"]
    assert SpikingReasoner()([p for p, _ in items], [scene], [0, 0]).answers == ["yes", "no"]


def test_steps_to_stable_follow_the_causal_chain():
    green = ["events", "events", *obj("green"), "filter_collision", "unique", "filter_ancestor", "count"]
    blue = ["events", "events", *obj("blue"), "filter_collision", "first", "filter_order"]
    blue += ["filter_ancestor", "count"]
    out = SpikingReasoner()([green, blue], [hand_scene()], [0, 0])
    assert out.answers == [execute(green, hand_scene()), execute(blue, hand_scene())]
    assert all(0 < n < t for n, t in zip(out.time_steps, out.simulated_steps))


def test_fused_op_and_reference_loop_agree():
    programs = [p for p, _ in HAND_CASES]
    fused = SpikingReasoner()(programs, [hand_scene()], [0] * len(programs))
    previous = ops.get_backend()
    ops.set_backend("reference")
    try:
        ref = SpikingReasoner()(programs, [hand_scene()], [0] * len(programs))
    finally:
        ops.set_backend(previous)
    assert fused.answers == ref.answers and fused.time_steps == ref.time_steps


def test_can_fire_follows_positive_synapses_to_a_fixed_point():
    # 0 is driven; 0 -> 1 reaches 1's threshold, 1 -> 2 does not, 2 -> 3 would; 0 -> 4 inhibits
    # and 4 is driven below threshold; 5 -> 5 holds itself but nothing starts it
    weight = torch.zeros(6, 6)
    weight[0, 1], weight[1, 2], weight[2, 3], weight[0, 4], weight[5, 5] = 1.0, 0.4, 1.0, -1.0, 2.0
    x = torch.zeros(3, 1, 6)
    x[0, 0, 0] = 1.0
    x[1, 0, 4] = 0.3
    x[2, 0, 2] = -5.0
    live = can_fire(x, weight, torch.full((6,), 0.5))
    assert live.tolist() == [True, True, False, False, False, False]


def test_simulating_only_the_neurons_that_can_fire_changes_no_spike():
    programs = [p for p, _ in HAND_CASES]
    world = World(hand_scene())
    graph = build_graphs([world])
    lay = Layout(graph.num_objects, graph.num_events, stack_depth([compile_program(p) for p in programs]))
    stim = encode_programs(programs, lay, _time_ranks(world) + 1)
    weight, thresholds = network_weights(graph, lay)[0], torch.tensor(lay.thresholds)
    full, _ = ops.lif_recurrent(stim.x, weight, decay=0.0, threshold=thresholds, reset="hard")
    pruned, live = _simulate(stim.x, weight, thresholds)
    assert 0 < live < lay.size
    assert full.sum() > 0 and torch.equal(pruned, full)
