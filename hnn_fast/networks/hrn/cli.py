"""`hnn-fast hrn make-questions` and `hnn-fast eval hrn`.

    hnn-fast hrn make-questions --scenes FILE --out FILE --per-scene N --seed S
    hnn-fast eval hrn --scenes FILE --questions FILE [--collisions given|learned] [--out DIR]

`eval hrn` writes DIR/results.json (agreement of the spiking reasoner with the symbolic executor per
question type and the disagreements, the robustness curves, the collision HU's metrics, the
parallelism table) and DIR/robustness.png, DIR/parallelism.png.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from ...cli import check_output_dir, check_output_file

_DEFAULT_MODEL = Path(__file__).resolve().parent / "results" / "collision_hu.pt"


def _levels(text: str, name: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name}: a comma-separated list of numbers, got {text!r}") from None
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"{name}: non-negative numbers, got {text!r}")
    return values


def register(subparsers: argparse._SubParsersAction) -> None:
    hrn = subparsers.add_parser("hrn", help="hybrid reasoning network tools (question generation)")
    hrn_sub = hrn.add_subparsers(dest="hrn_command", required=True)
    mq = hrn_sub.add_parser("make-questions", help="generate CLEVRER-style questions for perceived scenes")
    mq.add_argument(
        "--scenes",
        help="perceived scenes (jsonl or jsonl.gz); default: the shared CLEVRER file, else generated scenes",
    )
    mq.add_argument("--out", required=True, help="questions file to write (CLEVRER layout, JSON)")
    mq.add_argument("--per-scene", type=int, default=8, help="questions per video")
    mq.add_argument("--seed", type=int, default=0)
    mq.add_argument("--limit", type=int, help="only the first N scenes")
    mq.add_argument(
        "--scene-range", metavar="FIRST-LAST", help="only scenes with these indices, e.g. 10800-10999"
    )
    mq.set_defaults(run=_make_questions)

    ev = subparsers.add_parser("eval", help="evaluate a model (hrn: the hybrid reasoning network)")
    ev_sub = ev.add_subparsers(dest="eval_target", required=True)
    e = ev_sub.add_parser("hrn", help="spiking reasoner vs symbolic executor, robustness, parallelism")
    e.add_argument("--scenes", help="perceived scenes (jsonl or jsonl.gz); default: the shared CLEVRER file")
    e.add_argument("--questions", required=True, help="questions file (CLEVRER layout)")
    e.add_argument(
        "--collisions",
        choices=("given", "learned"),
        default="given",
        help="collisions the reasoner uses: the perceived ones, or the learnable collision HU's",
    )
    e.add_argument(
        "--collision-model",
        help="a saved collision HU, or a `hnn-fast train hrn` run or checkpoint "
        f"(default: {_DEFAULT_MODEL.relative_to(_DEFAULT_MODEL.parents[4])} "
        "when present, else a quick training run)",
    )
    e.add_argument("--out", default="runs/hrn-eval", help="output directory")
    e.add_argument(
        "--threshold-levels",
        type=lambda t: _levels(t, "--threshold-levels"),
        default=[0, 10, 12.5, 15, 20, 25, 30],
        help="detector thresholds (image units; 0 = clean)",
    )
    e.add_argument(
        "--inject-levels",
        type=lambda t: _levels(t, "--inject-levels"),
        default=[0, 0.05, 0.1, 0.2, 0.3],
        help="spurious-collision rates per pair and world",
    )
    e.add_argument("--no-robustness", action="store_true", help="skip the robustness curves")
    e.add_argument("--no-parallelism", action="store_true", help="skip the parallelism table")
    e.add_argument(
        "--parallelism-sizes",
        type=lambda t: [int(v) for v in _levels(t, "--parallelism-sizes")],
        default=[2, 4, 8, 12, 16],
        help="object counts of the generated videos of the parallelism "
        "table (besides the perceived videos by object count)",
    )
    e.add_argument("--no-plots", action="store_true")
    e.add_argument("--seed", type=int, default=0)
    e.set_defaults(run=_eval)


def _fail(command: str, message: str) -> int:
    print(f"hnn-fast {command}: error: {message}", file=sys.stderr)
    return 2


def _make_questions(args: argparse.Namespace) -> int:
    from .questions import generate_questions, save_questions
    from .scenes import SceneFormatError, load_default_scenes

    if args.per_scene < 1:
        return _fail("hrn make-questions", f"--per-scene {args.per_scene}: must be >= 1")
    indices = None
    if args.scene_range:
        try:
            first, last = (int(v) for v in args.scene_range.split("-"))
        except ValueError:
            return _fail("hrn make-questions", f"--scene-range {args.scene_range!r}: expected FIRST-LAST")
        indices = range(first, last + 1)
    check_output_file(args.out, "--out")
    try:
        scenes = load_default_scenes(indices, limit=args.limit, path=args.scenes)
    except SceneFormatError as exc:
        return _fail("hrn make-questions", f"--scenes: {exc}")
    questions = generate_questions(scenes, args.per_scene, args.seed)
    save_questions(questions, args.out)
    kinds = {}
    for q in questions:
        kinds[q.question_type] = kinds.get(q.question_type, 0) + 1
    print(
        f"wrote {len(questions)} questions about {len(scenes)} videos to {args.out}: "
        + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
    )
    return 0


def _collision_model(args: argparse.Namespace, scenes_path, log):
    """(model, where it came from)."""
    from ...train import train
    from .collision_hu import load_model

    if args.collision_model:
        return load_model(args.collision_model), args.collision_model
    if _DEFAULT_MODEL.is_file():
        return load_model(_DEFAULT_MODEL), str(_DEFAULT_MODEL)
    log(
        "note: no collision model given; training one quickly (2 epochs; "
        "`hnn-fast train hrn` trains it fully)"
    )
    overrides = ["epochs=2"] + ([] if scenes_path is None else [f"scenes={scenes_path}"])
    with tempfile.TemporaryDirectory(prefix="hrn-collision-hu-") as run_dir:
        result = train("hrn", overrides=overrides, out_dir=run_dir, progress=False)
    return result.model.cpu().eval(), "trained in this run (2 epochs)"


def _eval(args: argparse.Namespace) -> int:
    import torch

    from ... import ops
    from ...bench.machine import machine_info
    from . import evaluation as ev
    from .collision_hu import evaluate as evaluate_hu
    from .collision_hu import learned_collisions
    from .executor import ProgramError, World
    from .questions import QuestionFormatError, load_questions
    from .scenes import TEST_SCENES, SceneFormatError, default_scene_file, generate_scenes, load_scenes

    log = print
    out = check_output_dir(args.out, "--out")
    try:
        questions = load_questions(args.questions)
    except QuestionFormatError as exc:
        return _fail("eval hrn", f"--questions: {exc}")
    if not questions:
        return _fail("eval hrn", f"--questions: {args.questions} holds no question")
    wanted = sorted({q.scene_index for q in questions})
    scenes_path = args.scenes or default_scene_file()
    try:
        if scenes_path is not None:
            scenes = load_scenes(scenes_path, wanted)
        else:
            log("note: CLEVRER scene file not found; the questions must be about generated scenes")
            scenes = [s for s in generate_scenes(max(wanted) + 1) if s.scene_index in set(wanted)]
    except SceneFormatError as exc:
        return _fail("eval hrn", f"--scenes: {exc}")
    items, missing = ev.items_of(questions, scenes)
    if not items:
        return _fail(
            "eval hrn", f"--questions: none of its {len(questions)} questions is about a video in --scenes"
        )
    t0 = time.perf_counter()
    try:
        clean = [World(s) for s in scenes]
        reference = ev.executor_answers(items, clean)
    except ProgramError as exc:
        return _fail("eval hrn", f"--questions: {exc}")
    stored = [
        (it.question.choices[it.choice].answer if it.choice is not None else it.question.answer)
        for it in items
    ]
    with_stored = [(s, r) for s, r in zip(stored, reference) if s is not None]
    results: dict = {
        "scenes_file": str(scenes_path) if scenes_path else "generated",
        "questions_file": args.questions,
        "videos": len(scenes),
        "questions": len(questions) - missing,
        "questions_without_video": missing,
        "items": len(items),
        "collisions": args.collisions,
        "executor_matches_stored_answers": (
            sum(s == r for s, r in with_stored) / len(with_stored) if with_stored else None
        ),
        "machine": machine_info(torch.device("cpu")),
        "torch_threads": torch.get_num_threads(),
    }
    model = None
    worlds = clean
    if args.collisions == "learned" or args.collision_model or _DEFAULT_MODEL.is_file():
        model, source = _collision_model(args, scenes_path, log)
        results["collision_model"] = source
        held_out = f"{TEST_SCENES.start}-{TEST_SCENES.stop - 1}"
        try:
            if scenes_path is None:  # generated scenes: there is no held-out file to read
                raise SceneFormatError("no scene file")
            test, test_set = load_scenes(scenes_path, TEST_SCENES), f"scenes {held_out}"
        except SceneFormatError:
            test, test_set = scenes, f"the questions' videos (the scene file has no {held_out})"
        hu = evaluate_hu(model, test).as_dict()
        hu_cf = evaluate_hu(model, test, counterfactual=True).as_dict()
        results["collision_hu"] = {
            "test_set": test_set,
            "test_videos": len(test),
            "factual": hu,
            "factual_and_counterfactual": hu_cf,
        }
        log(
            f"collision HU on {len(test)} test videos (factual pairs): precision {hu['precision']:.3f} "
            f"recall {hu['recall']:.3f} F1 {hu['f1']:.3f} frame error {hu['frame_error']:.1f}"
        )
    if args.collisions == "learned":
        worlds = [World(learned_collisions(model, s)) for s in scenes]
        on_learned = ev.executor_answers(items, worlds)
        results["executor_on_learned_collisions"] = ev.agreement(items, reference, on_learned)["per_type"]
    answers, steps, flags = ev.reasoner_answers(items, worlds)
    results["agreement"] = ev.agreement(items, reference, answers, flags)
    if args.collisions == "learned":  # both on the same learned collisions
        results["agreement_with_executor_on_learned_collisions"] = ev.agreement(
            items, on_learned, answers, flags
        )
    results["reasoner_time_steps_mean"] = sum(steps) / len(steps)
    results["reasoner_backend"] = ops.get_backend()
    results["reasoner_seconds"] = time.perf_counter() - t0
    for t, row in results["agreement"]["per_type"].items():
        if row.get("items"):
            log(
                f"{t:<15} reasoner agrees with executor on {row['agree']}/{row['items']} items "
                f"({100 * row['accuracy']:.2f} %)"
            )
    if not args.no_robustness:
        results["robustness"] = {
            "threshold": ev.robustness_curve(
                items, scenes, reference, "threshold", args.threshold_levels, args.seed
            ),
            "inject": ev.robustness_curve(items, scenes, reference, "inject", args.inject_levels, args.seed),
        }
        for mode, curve in results["robustness"].items():
            for row in curve:
                log(
                    f"robustness {mode} {row['level']:>5}: "
                    f"{row['abnormal_collisions_per_video']:6.2f} abnormal/video  "
                    f"reasoner {row['reasoner']:.3f}  NS-DR {row['ns_dr']:.3f}  "
                    f"NS-DR-Guess {row['ns_dr_guess']:.3f}"
                )
    if not args.no_parallelism:
        groups = ev.parallelism_groups(scenes, generated_sizes=args.parallelism_sizes, seed=args.seed)
        results["parallelism"] = {name: ev.parallelism(g) for name, g in groups.items()}
    with open(out / "results.json", "w") as fh:
        json.dump(results, fh, indent=2)
    if not args.no_plots:
        _plots(results, out)
    log(f"wrote {out / 'results.json'}")
    return 0


# (axis, row key, marker, colour, label) of the parallelism figure
_PARALLELISM_SERIES = (
    ("latency", "time_steps_mean", "o", "C0", "steps to stable / question"),
    ("latency", "reasoner_ms_per_question", "s", "C2", "CPU ms / question, fused op"),
    ("latency", "reference_loop_ms_per_question", "s", "C3", "CPU ms / question, reference loop"),
    ("neurons", "neurons_per_question", "^", "C1", "neurons"),
    ("neurons", "simulated_neurons_per_question", "v", "C4", "neurons that can fire (simulated)"),
)


def _plots(results: dict, out: Path) -> None:
    from .._figures import pyplot, save

    plt = pyplot()

    if "robustness" in results:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for ax, (mode, curve) in zip(axes, results["robustness"].items()):
            x = [r["abnormal_collisions_per_video"] for r in curve]
            for key, label, style in (
                ("reasoner", "HRN (spiking)", "o-"),
                ("ns_dr", "NS-DR (executor)", "o-"),
                ("reasoner_strict", "HRN, ERR latch = no answer", "x--"),  # on NS-DR's line when equal
                ("ns_dr_guess", "NS-DR-Guess", "o-"),
            ):
                ax.plot(x, [100 * r[key] for r in curve], style, label=label)
            ax.set_xlabel("abnormal collisions per video")
            ax.set_ylabel("accuracy vs clean answers (%)")
            ax.set_title("relaxed detector threshold" if mode == "threshold" else "injected collisions")
            ax.grid(alpha=0.3)
            ax.legend()
        save(fig, out / "robustness.png")
    if results.get("parallelism"):
        tables = [(name, rows) for name, rows in results["parallelism"].items() if rows]
        fig, axes = plt.subplots(1, len(tables), figsize=(5.5 * len(tables), 4), squeeze=False)
        for ax, (name, rows) in zip(axes[0], tables):
            x = [r["objects"] for r in rows]
            ax2 = ax.twinx()
            for side, key, marker, color, label in _PARALLELISM_SERIES:
                (ax if side == "latency" else ax2).plot(
                    x, [r[key] for r in rows], marker=marker, color=color, label=label
                )
            ax.set_xlabel("objects per video")
            ax.set_ylabel("latency")
            ax.set_title(f"{name} videos")
            ax.set_ylim(bottom=0)
            ax2.set_ylabel("neurons per question")
            ax2.set_ylim(bottom=0)
            lines = ax.get_legend_handles_labels()
            lines2 = ax2.get_legend_handles_labels()
            ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left", fontsize=8)
        save(fig, out / "parallelism.png")
