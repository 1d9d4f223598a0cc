"""HRN commands: `hnn-fast hrn make-questions` and `hnn-fast eval hrn` on a tiny scene and questions
file, and their errors."""

import json

import pytest

from hnn_fast.cli import main
from hnn_fast.networks.hrn.collision_hu import CollisionUNet, save_model
from hnn_fast.networks.hrn.scenes import generate_scenes, scene_record

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def scene_file(tmp_path):
    path = tmp_path / "scenes.jsonl"
    with open(path, "w") as fh:
        for s in generate_scenes(4, seed=7):
            fh.write(json.dumps(scene_record(s)) + "\n")
    return path


def make_questions(scenes, questions, *options: str) -> int:
    return main(["hrn", "make-questions", "--scenes", str(scenes), "--out", str(questions), *options])


def eval_hrn(scenes, questions, out, *options: str) -> int:
    command = ["eval", "hrn", "--scenes", str(scenes), "--questions", str(questions), "--out", str(out)]
    return main([*command, *options])


def test_make_questions_and_eval(tmp_path, scene_file, capsys):
    questions = tmp_path / "q.json"
    assert make_questions(scene_file, questions, "--per-scene", "4", "--seed", "3") == 0
    data = json.loads(questions.read_text())
    assert len(data) == 4 and all(len(s["questions"]) <= 4 for s in data)
    out = tmp_path / "eval"
    levels = ["--threshold-levels", "0,20", "--inject-levels", "0,0.3", "--parallelism-sizes", "2,4"]
    assert eval_hrn(scene_file, questions, out, *levels) == 0
    results = json.loads((out / "results.json").read_text())
    per_type = results["agreement"]["per_type"]
    assert per_type["all"]["items"] > 0 and per_type["all"]["accuracy"] == 1.0
    assert results["executor_matches_stored_answers"] == 1.0
    threshold = results["robustness"]["threshold"]
    assert [r["level"] for r in threshold] == [0, 20]
    assert threshold[0]["reasoner"] == threshold[0]["ns_dr"] == 1.0
    assert threshold[1]["abnormal_collisions_per_video"] > 0
    assert threshold[0]["err_latch_is_ns_dr_ill_posed"] == 1.0
    assert threshold[0]["reasoner_where_ns_dr_ill_posed"] is None  # nothing is ill-posed when clean
    generated = results["parallelism"]["generated"]
    assert [r["objects"] for r in generated] == [2, 4]
    assert generated[1]["neurons_per_question"] > generated[0]["neurons_per_question"]
    assert all(0 < r["simulated_neurons_per_question"] < r["neurons_per_question"] for r in generated)
    assert (out / "robustness.png").stat().st_size > 0 and (out / "parallelism.png").stat().st_size > 0
    assert "reasoner agrees with executor" in capsys.readouterr().out


def test_eval_with_learned_collisions(tmp_path, scene_file):
    questions = tmp_path / "q.json"
    assert make_questions(scene_file, questions, "--per-scene", "3") == 0
    model = tmp_path / "hu.pt"
    save_model(CollisionUNet(width=8), model)
    out = tmp_path / "eval"
    options = ["--collisions", "learned", "--collision-model", str(model)]
    assert (
        eval_hrn(scene_file, questions, out, *options, "--no-robustness", "--no-parallelism", "--no-plots")
        == 0
    )
    results = json.loads((out / "results.json").read_text())
    assert results["collisions"] == "learned"
    # an untrained HU's collisions: the network still answers as the executor does on them
    assert results["agreement_with_executor_on_learned_collisions"]["per_type"]["all"]["accuracy"] == 1.0
    assert set(results["collision_hu"]["factual"]) >= {"precision", "recall", "f1", "frame_error"}
    assert "robustness" not in results


def test_eval_without_a_collision_model_trains_one_on_the_runtime(tmp_path, monkeypatch, capsys):
    import hnn_fast.networks.hrn.cli as hrn_cli

    monkeypatch.setattr(hrn_cli, "_DEFAULT_MODEL", tmp_path / "absent.pt")
    scenes = tmp_path / "scenes.jsonl"
    with open(scenes, "w") as fh:
        for s in [
            *generate_scenes(6, seed=0, first_index=10000),
            *generate_scenes(2, seed=1, first_index=10800),
        ]:
            fh.write(json.dumps(scene_record(s)) + "\n")
    questions = tmp_path / "q.json"
    assert make_questions(scenes, questions) == 0
    out = tmp_path / "eval"
    options = ["--collisions", "learned", "--no-robustness", "--no-parallelism", "--no-plots"]
    assert eval_hrn(scenes, questions, out, *options) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["collision_model"] == "trained in this run (2 epochs)"
    assert results["collision_hu"]["test_set"] == "scenes 10800-10999"
    captured = capsys.readouterr()
    assert "hrn: " in captured.out and "step/s" not in captured.err  # the runtime's summary, no bar


def test_eval_errors_name_the_argument(tmp_path, scene_file, capsys):
    questions = tmp_path / "q.json"
    questions.write_text(
        json.dumps(
            [
                {
                    "scene_index": 0,
                    "questions": [
                        {
                            "question_id": 0,
                            "question": "?",
                            "question_type": "descriptive",
                            "program": ["objects", "cnt"],
                            "answer": "1",
                        }
                    ],
                }
            ]
        )
    )
    assert eval_hrn(scene_file, questions, tmp_path / "o") == 2
    assert "--questions" in capsys.readouterr().err
    assert eval_hrn(tmp_path / "none.jsonl", questions, tmp_path / "o") == 2
    err = capsys.readouterr().err
    assert "--scenes" in err and "does not exist" in err
    assert make_questions(scene_file, questions, "--per-scene", "0") == 2
    assert "--per-scene" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["eval", "hrn", "--questions", str(questions), "--inject-levels", "a,b"])
