"""Scoring the spiking reasoner: agreement with the symbolic executor per question type, robustness to
abnormal collision data (Fig. 4d of the paper) and parallelism as scenes grow (Fig. 4c).

The reference answer of every scored item (a descriptive question, or one option of a
multiple-choice question) is the executor's on the clean scene with the given collisions. Items that
are ill-posed there are left out and counted.

Abnormal data. "threshold": a designable distance detector over the perceived trajectories adds a
collision wherever two objects come closer than the threshold (in image units; contact is at about
15), on top of the given ones: relaxing it floods the scene with false collisions. "inject": each pair
of objects of each world gets a spurious collision at a random sampled frame with probability `rate`.
NS-DR answers nothing when its program becomes ill-posed (counted wrong); NS-DR-Guess guesses
uniformly among the answers of the question's kind.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ... import ops
from .executor import BOOL, ILL_POSED, INT, LIT, World, choice_answer, compile_program, execute
from .questions import QUESTION_TYPES, Question
from .reasoner import SpikingReasoner
from .scenes import (
    COLORS,
    FRAME_STEP,
    MATERIALS,
    NUM_FRAMES,
    SHAPES,
    Collision,
    Scene,
    generate_scenes,
    merge_collisions,
)


@dataclass
class Item:
    question: Question
    choice: int | None  # option index, None for a descriptive question
    program: list[str]
    scene: int  # position in the scene list


def items_of(questions: Sequence[Question], scenes: Sequence[Scene]) -> tuple[list[Item], int]:
    """Scored items of the questions whose scene is present; and how many questions had no scene."""
    where = {s.scene_index: k for k, s in enumerate(scenes)}
    items, missing = [], 0
    for q in questions:
        if q.scene_index not in where:
            missing += 1
            continue
        if q.choices:
            items += [Item(q, i, c.program, where[q.scene_index]) for i, c in enumerate(q.choices)]
        else:
            items.append(Item(q, None, q.program, where[q.scene_index]))
    return items, missing


def _as_item_answer(item: Item, raw: str) -> str:
    return choice_answer(raw) if item.choice is not None else raw


def executor_answers(items: Sequence[Item], worlds: Sequence[World]) -> list[str]:
    return [_as_item_answer(it, execute(it.program, worlds[it.scene])) for it in items]


def reasoner_answers(
    items: Sequence[Item], worlds: Sequence[World], reasoner: SpikingReasoner | None = None
) -> tuple[list[str], list[int], list[bool]]:
    """Answers, measured steps to stable and ill-posed flags (the ERR latch)."""
    reasoner = reasoner or SpikingReasoner()
    out = reasoner([it.program for it in items], worlds, [it.scene for it in items])
    answers = [_as_item_answer(it, a) for it, a in zip(items, out.answers)]
    return answers, out.time_steps, out.ill_posed


def agreement(
    items: Sequence[Item],
    reference: Sequence[str],
    answers: Sequence[str],
    flags: Sequence[bool] | None = None,
    max_listed: int = 50,
) -> dict:
    """Per question type: scored items, agreeing items, accuracy, and questions with every option
    right; the items the executor finds ill-posed are scored apart (with flags: how many the network's
    ERR latch flags, and how many well-posed ones it flags); plus the disagreements (up to max_listed)
    and their classes (question type, executor answer kind -> reasoner answer kind) with an example."""
    per = {t: Counter() for t in QUESTION_TYPES}
    question_ok: dict[tuple[int, int], bool] = {}
    listed = []
    classes: dict[str, dict] = {}
    for k, (it, ref, got) in enumerate(zip(items, reference, answers)):
        t = it.question.question_type
        if ref == ILL_POSED:
            per[t]["ill_posed"] += 1
            per[t]["ill_posed_flagged"] += bool(flags is not None and flags[k])
            continue
        per[t]["well_posed_flagged"] += bool(flags is not None and flags[k])
        per[t]["items"] += 1
        ok = ref == got
        per[t]["agree"] += ok
        key = (it.question.scene_index, it.question.question_id)
        question_ok[key] = question_ok.get(key, True) and ok
        example = {
            "scene_index": it.question.scene_index,
            "question_id": it.question.question_id,
            "question_type": t,
            "question": it.question.question,
            "choice": it.choice,
            "program": it.program,
            "executor": ref,
            "reasoner": got,
        }
        if not ok:
            cls = classes.setdefault(
                f"{t}: {_answer_kind(ref)} -> {_answer_kind(got)}", {"count": 0, "example": example}
            )
            cls["count"] += 1
            if len(listed) < max_listed:
                listed.append(example)
    qtype = {(it.question.scene_index, it.question.question_id): it.question.question_type for it in items}
    out = {}
    for t in QUESTION_TYPES:
        c = per[t]
        qs = [ok for k, ok in question_ok.items() if qtype[k] == t]
        out[t] = {
            "items": c["items"],
            "agree": c["agree"],
            "ill_posed": c["ill_posed"],
            "ill_posed_flagged": c["ill_posed_flagged"],
            "well_posed_flagged": c["well_posed_flagged"],
            "accuracy": c["agree"] / c["items"] if c["items"] else None,
            "questions": len(qs),
            "questions_all_agree": sum(qs),
        }
    total = sum(per[t]["items"] for t in QUESTION_TYPES)
    out["all"] = {
        "items": total,
        "agree": sum(per[t]["agree"] for t in QUESTION_TYPES),
        "accuracy": sum(per[t]["agree"] for t in QUESTION_TYPES) / total if total else None,
    }
    return {"per_type": out, "disagreements": listed, "disagreement_classes": classes}


def _answer_kind(answer: str) -> str:
    if answer in (ILL_POSED, "yes", "no", "correct", "wrong"):
        return answer
    if answer.isdigit():
        return "count"
    return answer.split()[0] if " " in answer else "attribute"


# ------------------------------------------------------------------------------------ abnormal data


def detect_collisions(positions: np.ndarray, threshold: float, exclude: int | None = None) -> list[Collision]:
    """The designable detector: a collision where two seen objects are closer than threshold."""
    n = positions.shape[1]
    found = []
    for i in range(n):
        for j in range(i + 1, n):
            if exclude in (i, j):
                continue
            d = np.linalg.norm(positions[:, i] - positions[:, j], axis=-1)
            close = np.flatnonzero(np.nan_to_num(d, nan=np.inf) < threshold)
            found += [Collision(int(r) * FRAME_STEP, (i, j)) for r in close]
    return merge_collisions(found)


def relax_threshold(scene: Scene, threshold: float) -> Scene:
    if threshold <= 0:
        return scene
    factual = merge_collisions(scene.collisions + detect_collisions(scene.positions, threshold))
    cfs = {
        k: merge_collisions(cs + detect_collisions(scene.counterfactual_positions[k], threshold, k))
        if k in scene.counterfactual_positions
        else cs
        for k, cs in scene.counterfactuals.items()
    }
    return scene.with_collisions(factual, cfs)


def inject_collisions(scene: Scene, rate: float, rng: random.Random) -> Scene:
    if rate <= 0:
        return scene

    def spurious(collisions: list[Collision], removed: int | None) -> list[Collision]:
        ids = [o.id for o in scene.objects if o.id != removed]
        extra = [
            Collision(rng.randrange(NUM_FRAMES) * FRAME_STEP, (i, j))
            for a, i in enumerate(ids)
            for j in ids[a + 1 :]
            if rng.random() < rate
        ]
        return merge_collisions(collisions + extra, gap=0)

    return scene.with_collisions(
        spurious(scene.collisions, None), {k: spurious(cs, k) for k, cs in scene.counterfactuals.items()}
    )


def _answer_space(item: Item) -> list[str]:
    if item.choice is not None:
        return ["correct", "wrong"]
    compiled = compile_program(item.program)
    if compiled.out_type == BOOL:
        return ["yes", "no"]
    if compiled.out_type == INT:
        return [str(k) for k in range(6)]
    if compiled.out_type == LIT:
        attr = compiled.instrs[-1].op[len("query_") :]
        return list({"color": COLORS, "material": MATERIALS, "shape": SHAPES}.get(attr, COLORS))
    return [ILL_POSED]


def _accuracy_where(answers: Sequence[str], reference: Sequence[str], where: Sequence[bool]) -> float | None:
    picked = [a == r for a, r, w in zip(answers, reference, where) if w]
    return sum(picked) / len(picked) if picked else None


def _count_abnormal(clean: Sequence[Scene], noisy: Sequence[Scene]) -> float:
    extra = 0
    for a, b in zip(clean, noisy):
        extra += len(b.collisions) - len(a.collisions)
        extra += sum(len(b.counterfactuals.get(k, [])) - len(cs) for k, cs in a.counterfactuals.items())
    return extra / max(len(clean), 1)


def robustness_curve(
    items: Sequence[Item],
    scenes: Sequence[Scene],
    reference: Sequence[str],
    mode: str,
    levels: Sequence[float],
    seed: int = 0,
    reasoner: SpikingReasoner | None = None,
) -> list[dict]:
    """Accuracy against the clean executor answers of the reasoner, NS-DR and NS-DR-Guess as the
    abnormal data grows; how often the ERR latch fires exactly where NS-DR's program is ill-posed,
    and the reasoner's accuracy on the items where it is."""
    if mode not in ("threshold", "inject"):
        raise ValueError(f"robustness mode={mode!r}: must be 'threshold' or 'inject'")
    keep = [k for k, r in enumerate(reference) if r != ILL_POSED]
    items = [items[k] for k in keep]
    reference = [reference[k] for k in keep]
    curve = []
    for level in levels:
        rng = random.Random(seed)
        noisy = [
            relax_threshold(s, level) if mode == "threshold" else inject_collisions(s, level, rng)
            for s in scenes
        ]
        worlds = [World(s) for s in noisy]
        sym = executor_answers(items, worlds)
        spk, _, spk_flags = reasoner_answers(items, worlds, reasoner)
        strict = [ILL_POSED if f else a for a, f in zip(spk, spk_flags)]
        sym_ill = [a == ILL_POSED for a in sym]
        guess_rng = random.Random(seed + 1)
        guess = [a if a != ILL_POSED else guess_rng.choice(_answer_space(it)) for it, a in zip(items, sym)]
        n = max(len(items), 1)

        def acc(answers, n=n):
            return sum(a == r for a, r in zip(answers, reference)) / n

        per_type = {}
        for t in QUESTION_TYPES:
            ks = [k for k, it in enumerate(items) if it.question.question_type == t]
            if ks:
                per_type[t] = {
                    name: sum(ans[k] == reference[k] for k in ks) / len(ks)
                    for name, ans in (
                        ("reasoner", spk),
                        ("reasoner_strict", strict),
                        ("ns_dr", sym),
                        ("ns_dr_guess", guess),
                    )
                }
                per_type[t]["ns_dr_ill_posed"] = sum(sym_ill[k] for k in ks) / len(ks)
                per_type[t]["reasoner_where_ns_dr_ill_posed"] = _accuracy_where(
                    [spk[k] for k in ks], [reference[k] for k in ks], [sym_ill[k] for k in ks]
                )
        curve.append(
            {
                "mode": mode,
                "level": level,
                "abnormal_collisions_per_video": _count_abnormal(scenes, noisy),
                "reasoner": acc(spk),
                "reasoner_strict": acc(strict),
                "reasoner_flagged": sum(spk_flags) / n,
                "ns_dr": acc(sym),
                "ns_dr_guess": acc(guess),
                "ns_dr_ill_posed": sum(sym_ill) / n,
                "err_latch_is_ns_dr_ill_posed": sum(f == i for f, i in zip(spk_flags, sym_ill)) / n,
                "reasoner_where_ns_dr_ill_posed": _accuracy_where(spk, reference, sym_ill),
                "per_type": per_type,
            }
        )
    return curve


# -------------------------------------------------------------------------------------- parallelism


# The same programs at every scene size, so that only the scene changes: counting, motion at a frame,
# event order and before/after, causal ancestry, predicted events.
PARALLELISM_PROGRAMS = (
    ["objects", "count"],
    ["objects", "filter_moving", "count"],
    ["events", "filter_collision", "count"],
    ["objects", "events", "filter_end", "unique", "query_frame", "filter_stationary", "count"],
    [
        "events",
        "filter_collision",
        "events",
        "filter_collision",
        "first",
        "filter_order",
        "filter_after",
        "count",
    ],
    ["events", "events", "filter_collision", "last", "filter_order", "filter_ancestor", "count"],
    ["unseen_events", "filter_collision", "exist"],
)


def parallelism(
    groups: dict[int, Sequence[Scene]], repeats: int = 3, clock: Callable[[], float] = time.perf_counter
) -> list[dict]:
    """Per number of objects (groups: objects -> videos): events per video, neurons per question (the
    scene's network, and the part its stimuli can make fire, which is simulated), measured steps to
    stable per question, the longest stimulus, and the wall time of one reasoner call over all videos
    and PARALLELISM_PROGRAMS (graph construction included) on the fused op and on the reference loop
    (hnn_fast.ops.set_backend), and of the executor on the same, one program at a time."""
    reasoner = SpikingReasoner()
    rows = []
    for n_obj in sorted(groups):
        group = list(groups[n_obj])
        if not group:
            continue
        worlds = [World(s) for s in group]
        programs = [list(p) for _ in group for p in PARALLELISM_PROGRAMS]
        scene_of = [k for k in range(len(group)) for _ in PARALLELISM_PROGRAMS]
        best = {}
        out = None
        previous = ops.get_backend()
        try:
            for backend in ("fused", "reference"):
                ops.set_backend(backend)
                best[backend] = float("inf")
                for _ in range(repeats):
                    t0 = clock()
                    out = reasoner(programs, worlds, scene_of)
                    best[backend] = min(best[backend], clock() - t0)
        finally:
            ops.set_backend(previous)
        best_exec = float("inf")
        for _ in range(repeats):
            t0 = clock()
            for p, k in zip(programs, scene_of):
                execute(p, worlds[k])
            best_exec = min(best_exec, clock() - t0)
        rows.append(
            {
                "objects": n_obj,
                "videos": len(group),
                "questions": len(programs),
                "events_per_video": float(np.mean([len(w.events) for w in worlds])),
                "neurons_per_question": float(np.mean(out.neurons)),
                "simulated_neurons_per_question": float(np.mean(out.simulated_neurons)),
                "time_steps_mean": float(np.mean(out.time_steps)),
                "time_steps_max": int(np.max(out.time_steps)),
                "simulated_steps_max": max(out.simulated_steps),
                "reasoner_ms_per_question": best["fused"] * 1e3 / len(programs),
                "reference_loop_ms_per_question": best["reference"] * 1e3 / len(programs),
                "executor_ms_per_question": best_exec * 1e3 / len(programs),
            }
        )
    return rows


def parallelism_groups(
    scenes: Sequence[Scene],
    per_group: int = 16,
    generated_sizes: Sequence[int] = (),
    seed: int = 0,
    generated_per_group: int = 8,
) -> dict[str, dict[int, list[Scene]]]:
    """Videos by object count: the given ones, and generated ones of the given sizes."""
    real: dict[int, list[Scene]] = defaultdict(list)
    for s in scenes:
        if len(real[s.num_objects]) < per_group:
            real[s.num_objects].append(s)
    generated = {
        n: generate_scenes(generated_per_group, seed=seed + n, num_objects=n) for n in generated_sizes
    }
    return {"perceived": dict(real), "generated": generated}
