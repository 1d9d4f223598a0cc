"""Every fenced code block of README.md, docs/*.md and the networks' READMEs runs here, so that the
examples cannot rot; their relative links must name files that exist. A block is tagged `python`,
`bash` or `text` (output samples, formulas and trees: not run). The blocks of one file run in order
in one directory, and its Python blocks in one namespace, so a block may build on the ones before it.

Python blocks are executed. A `bash` block is read command by command; what each command gets:

- `hnn-fast ...` runs for real (in-process, through hnn_fast.cli.main) when it is quick: `info`,
  `bench schema`, `bench --tiny`, anything with `--show-config` or `--help`, and every
  `train snn-digits` (seconds). A slower `train` (hsn, hmn, hrn) resolves its config with
  `--show-config` instead (experiment, preset, keys and values checked, nothing trained), or, with
  `--resume` (which needs a run), is parsed and its experiment looked up. Every other `hnn-fast`
  command (the full benchmark, the HRN evaluation over a scenes file) is parsed by the command's own
  argument parser.
- `make TARGET`: `make -n TARGET` succeeds (the target exists and its recipe expands), since the real
  targets build and test the whole project.
- `pip install ...`: every package it names is declared in pyproject.toml or requirements-dev.txt, and
  every extra of `.[extra]` is an extra of pyproject.toml; nothing is installed.
- `torchrun ...`: its options parse with torchrun's own parser, the module is hnn_fast.cli and the
  command after it gets the `hnn-fast` rules above without running (several processes or nodes cannot
  start inside a test; tests/train/test_train_ddp.py runs the data-parallel loop).
- `python -m MODULE ...` / `python SCRIPT`: the module can be imported, the script exists.
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import shlex
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomllib
import torch

import hnn_fast
from hnn_fast import cli
from hnn_fast.train import registry

ROOT = Path(__file__).resolve().parents[2]
DOCS = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted(ROOT.glob("hnn_fast/networks/*/README.md")),
    ROOT / "benchmarks" / "README.md",
]
LANGUAGES = ("python", "bash", "text")
_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```\s*$", re.M | re.S)


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the block's first line of code, 1-based
    language: str
    code: str

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    text = path.read_text()
    return [
        Block(path, text.count("\n", 0, m.start()) + 2, m.group(1).strip(), m.group(2))
        for m in _FENCE.finditer(text)
    ]


ALL = [b for path in DOCS for b in blocks(path)]
RUNNABLE = [b for b in ALL if b.language in ("python", "bash")]


def test_docs_have_blocks():
    assert {b.path.name for b in RUNNABLE} >= {"README.md", "ops.md", "training.md"}


@pytest.mark.parametrize("block", ALL, ids=[b.name for b in ALL])
def test_block_is_tagged(block):
    assert block.language in LANGUAGES, f"{block.name}: tag the block as one of {LANGUAGES}"


_LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("path", DOCS, ids=[str(p.relative_to(ROOT)) for p in DOCS])
def test_relative_links_resolve(path):
    for target in _LINK.findall(path.read_text()):
        if target.startswith(("http://", "https://", "#")):
            continue
        where = path.relative_to(ROOT)
        assert (path.parent / target.split("#")[0]).exists(), f"{where}: broken link {target}"


class _File:
    """What the blocks of one file share: a working directory, a module namespace, and how many of the
    file's blocks have run in it."""

    def __init__(self, workdir: Path, name: str):
        self.workdir = workdir
        self.module = types.ModuleType(name)
        self.done = 0


_files: dict[Path, _File] = {}


@pytest.fixture
def docs_env(tmp_path_factory, monkeypatch):
    cache = tmp_path_factory.getbasetemp() / "hnn_fast_cache"
    monkeypatch.setenv("HNN_FAST_CACHE", str(cache))
    saved = dict(registry._REGISTRY)
    yield tmp_path_factory
    registry._REGISTRY.clear()
    registry._REGISTRY.update(saved)
    hnn_fast.set_backend("fused")


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.name for b in RUNNABLE])
def test_block_runs(block, docs_env, monkeypatch, one_thread):
    if block.path not in _files:
        name = re.sub(r"\W", "_", str(block.path.relative_to(ROOT)))
        _files[block.path] = _File(docs_env.mktemp(name), f"docs_{name}")
    state = _files[block.path]
    monkeypatch.chdir(state.workdir)
    own = [b for b in RUNNABLE if b.path == block.path]
    # Run alone (-k), a block first runs the ones before it that it may build on.
    for earlier in own[state.done : own.index(block) + 1]:
        _run(earlier, state)
        state.done += 1


def _run(block: Block, state: _File) -> None:
    torch.manual_seed(0)
    if block.language == "python":
        code = compile("\n" * (block.line - 1) + block.code, block.name, "exec")
        sys.modules[state.module.__name__] = state.module
        try:
            exec(code, state.module.__dict__)
        finally:
            del sys.modules[state.module.__name__]
        return
    for command in _commands(block.code):
        _shell(command, block.name)


def _commands(code: str) -> list[list[str]]:
    lines = code.replace("\\\n", " ").splitlines()
    return [argv for argv in (shlex.split(line, comments=True) for line in lines) if argv]


def _shell(argv: list[str], where: str) -> None:
    program, args = argv[0], argv[1:]
    if program == "hnn-fast":
        _hnn_fast(args, where, run=True)
    elif program == "make":
        result = subprocess.run(["make", "-n", *args], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0, f"{where}: make -n {' '.join(args)}: {result.stderr}"
    elif program == "pip":
        _pip(args, where)
    elif program == "torchrun":
        from torch.distributed.run import get_args_parser

        parsed = get_args_parser().parse_args(args)
        assert parsed.module and parsed.training_script == "hnn_fast.cli", f"{where}: {argv}"
        _hnn_fast(parsed.training_script_args, where, run=False)
    elif program == "python":
        if args[0] == "-m":
            assert importlib.util.find_spec(args[1]) is not None, f"{where}: no module {args[1]}"
        else:
            assert (ROOT / args[0]).is_file(), f"{where}: no script {args[0]}"
    else:
        pytest.fail(f"{where}: no rule to check the command {shlex.join(argv)}")


def _quick(args: list[str]) -> bool:
    return (
        args[:1] == ["info"]
        or args[:2] in (["bench", "schema"], ["train", "snn-digits"])
        or (args[:1] == ["bench"] and "--tiny" in args)
        or bool({"--show-config", "--help", "-h"} & set(args))
    )


def _hnn_fast(args: list[str], where: str, *, run: bool) -> None:
    parsed = _parse(args, where)
    if parsed is None:  # --help: printed and done
        return
    if args[:1] == ["train"]:
        registry.get_experiment(parsed.experiment)
        if not (run and _quick(args)) and "--resume" not in args:
            args = [*args, "--show-config"]
            run = True
    if run and _quick(args):
        assert cli.main(args) == 0, f"{where}: hnn-fast {shlex.join(args)} failed"


def _parse(args: list[str], where: str):
    with contextlib.redirect_stdout(sys.stderr):
        try:
            return cli.build_parser().parse_args(args)
        except SystemExit as e:
            if e.code:
                pytest.fail(f"{where}: hnn-fast {shlex.join(args)} does not parse")
            return None


def _declared() -> tuple[set[str], set[str]]:
    """(names of every package pyproject.toml or requirements-dev.txt declares, the extras)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = project["project"]["optional-dependencies"]
    specs = [
        *project["build-system"]["requires"],
        *project["project"]["dependencies"],
        *(spec for group in extras.values() for spec in group),
        *(ROOT / "requirements-dev.txt").read_text().split(),
    ]
    return {re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0].lower() for spec in specs}, set(extras)


def _pip(args: list[str], where: str) -> None:
    assert args[:1] == ["install"], f"{where}: pip {args}"
    packages, extras = _declared()
    for arg in args[1:]:
        if arg.startswith("-"):
            continue
        if arg.startswith("."):
            wanted = re.fullmatch(r"\.(?:\[([\w,-]+)\])?", arg)
            assert wanted, f"{where}: pip install {arg}"
            assert set(filter(None, (wanted.group(1) or "").split(","))) <= extras, f"{where}: {arg}"
        else:
            assert arg.lower() in packages, f"{where}: {arg} is not declared in pyproject.toml"
