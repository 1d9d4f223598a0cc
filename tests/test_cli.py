"""Careless and hostile input to the command line and the file loaders: every failure is one line
naming what is wrong, with a non-zero status, and checked before any work; no file runs code when read;
damaged scene, question, event and cache files are errors naming the file."""

from __future__ import annotations

import gzip
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from hnn_fast import cli
from hnn_fast.bench import suite
from hnn_fast.networks.hrn import scenes as scenes_module
from hnn_fast.networks.hrn.questions import QuestionFormatError, load_questions
from hnn_fast.networks.hrn.scenes import SceneFormatError, generate_scenes, load_scenes, scene_record

pytestmark = pytest.mark.usefixtures("one_thread")


def _one_error_line(capsys, *expected: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for text in expected:
        assert text in err, err
    return err


@pytest.fixture
def no_bench_run(monkeypatch):
    """A bench command that got past its checks would start the suite: that is the failure here."""

    def fail(*args, **kwargs):
        raise AssertionError("the suite started before the output paths were checked")

    monkeypatch.setattr(suite, "run", fail)


@pytest.mark.parametrize(
    "option, make, expected",
    [
        ("--results-dir", lambda p: p.write_text("a file"), "--results-dir"),
        ("--results-dir", lambda p: None, "--results-dir"),  # below a file: see the fixture below
        ("--json", lambda p: p.mkdir(), "is a directory"),
    ],
)
@pytest.mark.usefixtures("no_bench_run")
def test_bench_output_paths_are_checked_before_the_run(tmp_path, capsys, option, make, expected):
    path = tmp_path / "out"
    make(path)
    if not path.exists():
        (tmp_path / "file").write_text("x")
        path = tmp_path / "file" / "below"
    assert cli.main(["bench", "--tiny", option, str(path)]) == 2
    _one_error_line(capsys, expected)


def test_bench_cuda_without_a_gpu(capsys, monkeypatch, no_bench_run):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert cli.main(["bench", "--tiny", "--device", "cuda", "--no-save"]) == 2
    _one_error_line(capsys, "--device cuda: no CUDA device is available")


@pytest.mark.parametrize("args", [["--threads", "-1"], ["--threads", "0"], ["--only", ""], ["--only", ","]])
def test_bench_bad_threads_and_groups_are_refused(capsys, args, no_bench_run):
    with pytest.raises(SystemExit) as info:
        cli.main(["bench", "--tiny", *args])
    assert info.value.code == 2
    assert args[0] in capsys.readouterr().err


def test_train_out_that_is_a_file(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    assert cli.main(["train", "snn-digits", "--out", str(tmp_path / "f"), "--no-progress"]) == 2
    _one_error_line(capsys, "--out", "cannot write there")


def test_unexpected_errors_are_one_line_and_debug_shows_the_traceback(tmp_path, capsys, monkeypatch):
    missing = tmp_path / "missing.json"
    assert cli.main(["eval", "hrn", "--questions", str(missing), "--out", str(tmp_path / "o")]) == 2
    _one_error_line(capsys, "does not exist")
    (tmp_path / "f").write_text("x")
    monkeypatch.setenv("HNN_FAST_DEBUG", "1")
    with pytest.raises(Exception, match="cannot write there"):
        cli.main(["train", "snn-digits", "--out", str(tmp_path / "f"), "--no-progress"])
    monkeypatch.delenv("HNN_FAST_DEBUG")
    with pytest.raises(Exception, match="cannot write there"):
        cli.main(["--debug", "train", "snn-digits", "--out", str(tmp_path / "f"), "--no-progress"])


class _Evil:
    def __reduce__(self):
        return (exec, ("open(__import__('os').environ['EVIL_MARK'], 'w').write('ran')",))


def test_a_model_file_cannot_run_code(tmp_path, capsys, monkeypatch):
    mark = tmp_path / "ran"
    monkeypatch.setenv("EVIL_MARK", str(mark))
    evil = tmp_path / "evil.pt"
    torch.save({"state_dict": _Evil(), "width": 8}, evil)
    questions = tmp_path / "q.json"
    questions.write_text(json.dumps([{"scene_index": 0, "questions": []}]))
    assert cli.main(["eval", "hrn", "--questions", str(questions), "--collision-model", str(evil)]) == 2
    capsys.readouterr()
    from hnn_fast.networks.hrn.collision_hu import load_model

    with pytest.raises(ValueError, match=r"evil\.pt"):
        load_model(evil)
    assert not mark.exists(), "loading the model ran code it carried"


@pytest.mark.parametrize(
    "content, kind",
    [
        (b"not a model", "bytes"),
        (None, "wrong kind"),
        (None, "huge width"),
    ],
)
def test_bad_model_files_name_the_file(tmp_path, content, kind):
    from hnn_fast.networks.hrn.collision_hu import load_model

    path = tmp_path / "m.pt"
    if kind == "bytes":
        path.write_bytes(content)
    elif kind == "wrong kind":
        torch.save({"something": torch.ones(2)}, path)
    else:
        torch.save({"width": 10**9, "state_dict": {}}, path)
    with pytest.raises(ValueError, match=r"m\.pt"):
        load_model(path)


def test_eval_without_the_scene_file_uses_generated_scenes(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(scenes_module, "default_scene_file", lambda: None)
    questions = tmp_path / "q.json"
    make = ["hrn", "make-questions", "--out", str(questions), "--limit", "3", "--per-scene", "2"]
    assert cli.main(make) == 0
    out = tmp_path / "eval"
    args = ["eval", "hrn", "--questions", str(questions), "--out", str(out)]
    assert cli.main([*args, "--no-robustness", "--no-parallelism", "--no-plots"]) == 0
    assert json.loads((out / "results.json").read_text())["scenes_file"] == "generated"


def test_questions_directory_and_outputs_are_one_line(tmp_path, capsys):
    assert cli.main(["eval", "hrn", "--questions", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    _one_error_line(capsys, "cannot be read")
    (tmp_path / "f").write_text("x")
    assert cli.main(["eval", "hrn", "--questions", str(tmp_path / "q"), "--out", str(tmp_path / "f")]) == 2
    _one_error_line(capsys, "--out")
    assert cli.main(["hrn", "make-questions", "--out", str(tmp_path), "--limit", "1"]) == 2
    _one_error_line(capsys, "is a directory")


def _scene_line() -> str:
    return json.dumps(scene_record(generate_scenes(1, seed=3)[0]))


def _with_index(text: str) -> bytes:
    return _scene_line().replace('"scene_index": 0', f'"scene_index": {text}').encode()


@pytest.mark.parametrize(
    "name, data",
    [
        ("truncated.jsonl.gz", lambda: gzip.compress((_scene_line() + "\n").encode())[:-20]),
        ("garbage.gz", lambda: b"\x1f\x8b" + b"\x00garbage" * 10),
        ("latin1.jsonl", lambda: b'{"scene_index": 0, "x": "\xff"}\n'),
        ("infinity.jsonl", lambda: _with_index("Infinity")),
        ("huge.jsonl", lambda: _with_index("1e400")),
        ("list.jsonl", lambda: b"[1, 2, 3]\n"),
        ("objects.jsonl", lambda: b'{"scene_index": 0, "objects": [1], "predictions": []}\n'),
        ("nested.jsonl", lambda: b"[" * 100000 + b"]" * 100000 + b"\n"),
    ],
)
def test_damaged_scene_files_name_the_file(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data())
    with pytest.raises(SceneFormatError, match=name.replace(".", r"\.")):
        load_scenes(path)


@pytest.mark.parametrize(
    "data",
    [
        '[{"scene_index": Infinity, "questions": []}]',
        "[1, 2]",
        '[{"scene_index": 0, "questions": [7]}]',
        "[" * 100000 + "]" * 100000,
        '{"scene_index": 0}',
    ],
)
def test_damaged_question_files_name_the_file(tmp_path, data):
    path = tmp_path / "q.json"
    path.write_text(data)
    with pytest.raises(QuestionFormatError, match=r"q\.json"):
        load_questions(path)


def test_train_hrn_with_a_bad_scene_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "scenes.jsonl"
    bad.write_bytes(b"\xff\xfe\n")
    args = ["train", "hrn", "--set", f"scenes={bad}", "--out", str(tmp_path / "r"), "--no-progress"]
    assert cli.main(args) == 2
    _one_error_line(capsys, "scenes.jsonl")


_AEDAT = """
import struct, sys
from hnn_fast.data import make_events
from hnn_fast.data.aedat import read_aedat4, write_aedat4
path = sys.argv[1]
write_aedat4(path, make_events([1, 2], [1, 2], [10, 20], [True, False]), 8, 8)
data = bytearray(open(path, "rb").read())
cases = {}
bad_byte = bytearray(data); bad_byte[data.index(b"NONE")] = 0xFF; cases["non-UTF-8 header"] = bad_byte
huge = bytearray(data); huge[14:18] = struct.pack("<I", 0xFFFFFFFF); cases["4 GB header"] = huge
cases["truncated"] = data[: len(data) - 7]
cases["no magic"] = b"#!AER-DAT3.1\\r\\n" + data[14:]
short = bytearray(data); short[14:18] = struct.pack("<I", 0); cases["empty header"] = short
flipped = bytearray(data); flipped[-40] ^= 0xFF; cases["flipped event byte"] = flipped
for name, blob in cases.items():
    open(path, "wb").write(bytes(blob))
    try:
        read_aedat4(path)
        print(name, "read")
    except ValueError as e:
        print(name, "ValueError", "not a valid AEDAT4 file" in str(e))
"""


def test_damaged_aedat4_files_are_errors_not_crashes(tmp_path):
    pytest.importorskip("aedat")
    run = subprocess.run(
        [sys.executable, "-c", _AEDAT, str(tmp_path / "r.aedat4")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, f"the decoder ended the process ({run.returncode}): {run.stderr[-1500:]}"
    outcome = {}
    for line in run.stdout.splitlines():
        if line.endswith(" read"):
            outcome[line[: -len(" read")]] = "read"
        else:
            name, kind, named = line.rsplit(" ", 2)
            outcome[name] = f"{kind} {named}"
    for name in ("non-UTF-8 header", "4 GB header", "truncated", "no magic", "empty header"):
        assert outcome[name] == "ValueError True", run.stdout
    assert outcome["flipped event byte"] in ("read", "ValueError True"), run.stdout


def test_damaged_event_digits_cache_names_the_file(tmp_path):
    from hnn_fast.data.digits import EventDigitsConfig, load_event_digits

    config = EventDigitsConfig()
    path = tmp_path / f"event_digits_{config.key()}_n3.npz"
    path.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(ValueError, match=r"event-digits cache .*n3\.npz is damaged"):
        load_event_digits(config, root=tmp_path, limit=3)
    np.savez(path, counts=np.zeros((2, 4)), labels=np.zeros(2, dtype=np.int64))
    with pytest.raises(ValueError, match="does not hold 3 digits"):
        load_event_digits(config, root=tmp_path, limit=3)
    path.write_bytes(pickle.dumps({"counts": 1}))
    with pytest.raises(ValueError, match="is damaged"):
        load_event_digits(config, root=tmp_path, limit=3)
