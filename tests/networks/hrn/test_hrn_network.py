"""HRN: the recurrent reasoner network: ill-posed flags from its ERR latch, CLEVRER's official
multiple-choice layout, measured steps to stable, and the fused op against the reference loop."""

import pytest

from hnn_fast import ops
from hnn_fast.networks.hrn.executor import ILL_POSED, execute
from hnn_fast.networks.hrn.questions import Choice, Question
from hnn_fast.networks.hrn.reasoner import SpikingReasoner

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
    assert all(0 < n < out.simulated_steps for n in out.time_steps)


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
