"""Every script in examples/ runs to completion (each asserts its own result) in under 40 lines."""

import runpy
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.py"))


def test_there_are_examples():
    assert {p.name for p in EXAMPLES} >= {"conv_snn_digits.py", "hybrid_digits.py", "hu_learning_modes.py"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(path, one_thread):
    assert len(path.read_text().splitlines()) < 40
    runpy.run_path(str(path), run_name="__main__")
