"""CLEVRER-style questions over perceived scenes: a generator for the four question types, with
programs in the NS-DR postfix vocabulary and answers from the symbolic executor, stored in CLEVRER's
own file layout so that real CLEVRER question files load the same way:

    [{"scene_index": 10000, "video_filename": "video_10000.mp4",
      "questions": [{"question_id": 0, "question": "...", "question_type": "descriptive",
                     "program": [...], "answer": "2"},
                    {"question_id": 1, "question": "...", "question_type": "counterfactual",
                     "program": [...], "choices": [{"choice_id": 0, "choice": "...",
                                                    "program": [...], "answer": "correct"}, ...]}]}]

A multiple-choice option's program is complete on its own (it answers yes/no); the question's program
names what the options are about (the target collision, the removed object).
"""

from __future__ import annotations

import itertools
import json
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .executor import BOOL, ILL_POSED, World, choice_answer, compile_program, execute
from .scenes import Scene

QUESTION_TYPES = ("descriptive", "explanatory", "predictive", "counterfactual")
ILL_POSED_SHARE = 0.05  # chance that the generator keeps an ill-posed descriptive template


class QuestionFormatError(ValueError):
    """A questions file or entry that does not follow CLEVRER's layout."""


@dataclass
class Choice:
    choice_id: int
    choice: str
    program: list[str]
    answer: str | None = None


@dataclass
class Question:
    scene_index: int
    question_id: int
    question: str
    question_type: str
    program: list[str]
    answer: str | None = None  # descriptive
    choices: list[Choice] = field(default_factory=list)  # the other three types

    def items(self) -> list[tuple[list[str], str | None]]:
        """(program, expected answer) of each scored item: the question, or each of its options."""
        if self.choices:
            return [(option_program(c.program, self.program), c.answer) for c in self.choices]
        return [(self.program, self.answer)]


def option_program(option: list[str], question: list[str]) -> list[str]:
    """The yes/no program of a multiple-choice option. An option that answers yes/no on its own (the
    generator's) is complete; one in CLEVRER's official layout names an event, and is scored as NS-DR
    scores it: the option's program, then the question's, joined by belong_to."""
    if compile_program(option).out_type == BOOL:
        return option
    return [*option, *question, "belong_to"]


# ---------------------------------------------------------------------------------- file layout


def questions_to_json(questions: Sequence[Question]) -> list[dict]:
    by_scene: dict[int, list[dict]] = {}
    for q in questions:
        entry = {
            "question_id": q.question_id,
            "question": q.question,
            "question_type": q.question_type,
            "program": q.program,
        }
        if q.choices:
            entry["choices"] = [
                {"choice_id": c.choice_id, "choice": c.choice, "program": c.program, "answer": c.answer}
                for c in q.choices
            ]
        else:
            entry["answer"] = q.answer
        by_scene.setdefault(q.scene_index, []).append(entry)
    return [
        {"scene_index": k, "video_filename": f"video_{k}.mp4", "questions": v} for k, v in by_scene.items()
    ]


def save_questions(questions: Sequence[Question], path: str | os.PathLike) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(questions_to_json(questions), fh)


def load_questions(path: str | os.PathLike) -> list[Question]:
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise QuestionFormatError(f"questions file {str(path)!r} does not exist") from None
    except OSError as exc:  # a directory, no permission, an I/O error
        reason = exc.strerror or exc
        raise QuestionFormatError(f"questions file {str(path)!r}: cannot be read ({reason})") from None
    except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8 (both ValueErrors), too deeply nested
        reason = f"{type(exc).__name__}: {exc}"
        raise QuestionFormatError(f"questions file {str(path)!r}: not JSON ({reason})") from None
    if not isinstance(data, list):
        raise QuestionFormatError(f"questions file {str(path)!r}: expected a list of scenes")
    out = []
    for n, scene in enumerate(data):
        try:
            index = int(scene["scene_index"])
            for q in scene["questions"]:
                choices = [
                    Choice(int(c["choice_id"]), str(c.get("choice", "")), list(c["program"]), c.get("answer"))
                    for c in q.get("choices", [])
                ]
                qtype = str(q["question_type"])
                if qtype not in QUESTION_TYPES:
                    raise ValueError(f"unknown question_type {qtype!r}")
                out.append(
                    Question(
                        index,
                        int(q["question_id"]),
                        str(q.get("question", "")),
                        qtype,
                        list(q["program"]),
                        q.get("answer"),
                        choices,
                    )
                )
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise QuestionFormatError(
                f"questions file {str(path)!r}, entry {n}: {type(exc).__name__}: {exc}"
            ) from None
    return out


# ------------------------------------------------------------------------------------------ generator


def describe(
    scene: Scene, obj: int, rng: random.Random, exclude: Sequence[str] = ()
) -> tuple[list[str], str] | None:
    """The shortest attribute description that picks out the object: (program ending in unique, text)."""
    kinds = [k for k in ("color", "material", "shape") if k not in exclude]
    me = scene.objects[obj]
    for size in range(1, len(kinds) + 1):
        options = [
            c
            for c in itertools.combinations(kinds, size)
            if sum(all(o.attribute(k) == me.attribute(k) for k in c) for o in scene.objects) == 1
        ]
        if options:
            chosen = rng.choice(options)
            program = ["objects"]
            for k in chosen:
                program += [me.attribute(k), f"filter_{k}"]
            words = [me.attribute(k) for k in ("color", "material") if k in chosen]
            words.append(me.shape if "shape" in chosen else "object")
            return [*program, "unique"], "the " + " ".join(words)
    return None


def _collision_program(a: list[str], b: list[str], events: str = "events") -> list[str]:
    return [events, *a, "filter_collision", *b, "filter_collision"]


class _Generator:
    def __init__(self, scene: Scene, rng: random.Random):
        self.scene, self.rng, self.world = scene, rng, World(scene)
        self.desc = {o.id: describe(scene, o.id, rng) for o in scene.objects}

    def ok(self, program: list[str]) -> str | None:
        answer = execute(program, self.world)
        return None if answer == ILL_POSED else answer

    def descriptive(self) -> tuple[str, list[str]] | None:
        rng, scene = self.rng, self.scene
        obj = rng.choice(scene.objects)
        d = self.desc[obj.id]
        kind = rng.choice(("color", "material", "shape"))
        value = obj.attribute(kind)
        templates = [
            (
                f"How many {value} objects are there?"
                if kind != "shape"
                else f"How many {value}s are there?",
                ["objects", value, f"filter_{kind}", "count"],
            ),
            (
                f"Are there any moving {value} objects?",
                ["objects", value, f"filter_{kind}", "filter_moving", "exist"],
            ),
            (
                "How many objects are stationary when the video ends?",
                ["objects", "events", "filter_end", "unique", "query_frame", "filter_stationary", "count"],
            ),
            (
                "How many objects are moving when the video begins?",
                ["objects", "events", "filter_start", "unique", "query_frame", "filter_moving", "count"],
            ),
            ("How many collisions happen?", ["events", "filter_collision", "count"]),
            (
                "What is the color of the object that enters the scene first?",
                ["events", "filter_in", "first", "filter_order", "query_object", "query_color"],
            ),
            (
                "What is the shape of the last object to enter the scene?",
                ["events", "filter_in", "last", "filter_order", "query_object", "query_shape"],
            ),
            ("Are there any stationary objects?", ["objects", "filter_stationary", "exist"]),
        ]
        if d is not None:
            prog, text = d
            other = rng.choice([k for k in ("color", "material", "shape") if k not in prog])
            templates += [
                (f"What is the {other} of {text}?", [*prog, f"query_{other}"]),
                (
                    f"Is {text} moving when the video ends?",
                    [
                        *prog,
                        "objects",
                        "events",
                        "filter_end",
                        "unique",
                        "query_frame",
                        "filter_moving",
                        "belong_to",
                    ],
                ),
                (f"How many collisions does {text} have?", ["events", *prog, "filter_collision", "count"]),
                (
                    f"What is the {other} of the first object that collides with {text}?",
                    [
                        "events",
                        *prog,
                        "filter_collision",
                        "first",
                        "filter_order",
                        *prog,
                        "query_collision_partner",
                        f"query_{other}",
                    ],
                ),
                (
                    f"What is the {other} of the second object that collides with {text}?",
                    [
                        "events",
                        *prog,
                        "filter_collision",
                        "second",
                        "filter_order",
                        *prog,
                        "query_collision_partner",
                        f"query_{other}",
                    ],
                ),
                (
                    f"How many collisions happen after {text} enters the scene?",
                    [
                        "events",
                        "filter_collision",
                        "events",
                        *prog,
                        "filter_in",
                        "unique",
                        "filter_after",
                        "count",
                    ],
                ),
                (
                    f"Are there any collisions before {text} enters the scene?",
                    [
                        "events",
                        "filter_collision",
                        "events",
                        *prog,
                        "filter_in",
                        "unique",
                        "filter_before",
                        "exist",
                    ],
                ),
                (f"Does {text} exit the scene?", ["events", *prog, "filter_out", "exist"]),
                (f"Is {text} stationary?", [*prog, "objects", "filter_stationary", "belong_to"]),
            ]
            partners = [e.objects for e in self.world.events[: len(self.world.seen)] if e.kind == "collision"]
            if partners:
                pair = rng.choice(partners)
                da, db = self.desc[pair[0]], self.desc[pair[1]]
                if da and db:
                    templates.append(
                        (
                            f"How many collisions happen before {da[1]} collides with {db[1]}?",
                            [
                                "events",
                                "filter_collision",
                                *_collision_program(da[0], db[0]),
                                "unique",
                                "filter_before",
                                "count",
                            ],
                        )
                    )
        rng.shuffle(templates)
        for text, program in templates:
            # a few programs the executor finds ill-posed are kept (answer "error"), scored apart
            if self.ok(program) is not None or rng.random() < ILL_POSED_SHARE:
                return text, program
        return None

    def _pair_choice(self, events_prefix: list[str], pair: tuple[int, int]) -> tuple[str, list[str]] | None:
        da, db = self.desc[pair[0]], self.desc[pair[1]]
        if da is None or db is None:
            return None
        text = f"{da[1][0].upper()}{da[1][1:]} collides with {db[1]}"
        return text, [*events_prefix, *da[0], "filter_collision", *db[0], "filter_collision", "exist"]

    def _options(self, candidates: list[tuple[str, list[str]]], max_choices: int = 4) -> list[Choice] | None:
        answered = [(t, p, choice_answer(execute(p, self.world))) for t, p in candidates]
        answered = [a for a in answered if a[2] != ILL_POSED]
        correct = [a for a in answered if a[2] == "correct"]
        wrong = [a for a in answered if a[2] == "wrong"]
        if not correct or not wrong:
            return None
        self.rng.shuffle(correct)
        self.rng.shuffle(wrong)
        n_right = self.rng.randint(1, min(len(correct), max_choices - 1))
        picked = correct[:n_right] + wrong[: max_choices - n_right]
        self.rng.shuffle(picked)
        return [Choice(i, t, p, a) for i, (t, p, a) in enumerate(picked)]

    def _pairs(self, exclude: int | None = None) -> list[tuple[int, int]]:
        ids = [o.id for o in self.scene.objects if o.id != exclude]
        return list(itertools.combinations(ids, 2))

    def explanatory(self):
        world = self.world
        targets = [
            i for i in world.seen if world.events[i].kind == "collision" and world.ancestors[:, i].any()
        ]
        if not targets:
            return None
        t = self.rng.choice(targets)
        a, b = world.events[t].objects
        da, db = self.desc[a], self.desc[b]
        if da is None or db is None:
            return None
        target = [*_collision_program(da[0], db[0]), "unique"]
        candidates = []
        for i in world.seen:
            e = world.events[i]
            if i == t or e.kind not in ("collision", "in"):
                continue
            if e.kind == "collision":
                dc, dd = self.desc[e.objects[0]], self.desc[e.objects[1]]
                if dc is None or dd is None:
                    continue
                event = [*_collision_program(dc[0], dd[0]), "unique"]
                text = f"The collision between {dc[1]} and {dd[1]}"
            else:
                dc = self.desc[e.objects[0]]
                if dc is None:
                    continue
                event = ["events", *dc[0], "filter_in", "unique"]
                text = f"{dc[1][0].upper()}{dc[1][1:]}'s entering the scene"
            candidates.append((text, [*event, "events", *target, "filter_ancestor", "belong_to"]))
        for o in self.scene.objects:
            if o.id not in (a, b) and self.desc[o.id] is not None:
                d = self.desc[o.id]
                candidates.append(
                    (
                        f"The presence of {d[1]}",
                        ["events", *target, "filter_ancestor", *d[0], "filter_collision", "exist"],
                    )
                )
        options = self._options(candidates)
        if options is None:
            return None
        return (
            f"Which of the following is responsible for the collision between {da[1]} and {db[1]}?",
            target,
            options,
        )

    def predictive(self):
        candidates = [c for c in (self._pair_choice(["unseen_events"], p) for p in self._pairs()) if c]
        options = self._options(candidates)
        return None if options is None else ("What will happen next?", ["unseen_events"], options)

    def counterfactual(self):
        removable = [
            o.id for o in self.scene.objects if self.desc[o.id] and o.id in self.scene.counterfactuals
        ]
        if not removable:
            return None
        x = self.rng.choice(removable)
        prog, text = self.desc[x]
        head = [*prog, "counterfact_events"]
        candidates = [c for c in (self._pair_choice(head, p) for p in self._pairs(exclude=x)) if c]
        options = self._options(candidates)
        return None if options is None else (f"Without {text}, what will happen?", head, options)


def generate_questions(
    scenes: Sequence[Scene], per_scene: int = 8, seed: int = 0, mix: Sequence[float] = (0.4, 0.2, 0.2, 0.2)
) -> list[Question]:
    """`per_scene` questions per scene (fewer when a type has nothing to ask), types drawn by `mix`."""
    if per_scene < 1:
        raise ValueError(f"per_scene={per_scene}: must be >= 1")
    rng = random.Random(seed)
    out: list[Question] = []
    for scene in scenes:
        gen = _Generator(scene, rng)
        qid = 0
        asked: set[str] = set()  # no question twice about one video
        for _ in range(per_scene * 4):
            if qid >= per_scene:
                break
            qtype = rng.choices(QUESTION_TYPES, weights=mix)[0]
            made = getattr(gen, qtype)()
            if made is None or made[0] in asked:
                continue
            asked.add(made[0])
            if qtype == "descriptive":
                text, program = made
                out.append(
                    Question(scene.scene_index, qid, text, qtype, program, gen.ok(program) or ILL_POSED)
                )
            else:
                text, program, choices = made
                out.append(Question(scene.scene_index, qid, text, qtype, program, None, choices))
            qid += 1
    return out
