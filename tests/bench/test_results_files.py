"""The committed results files under benchmarks/results/ stay readable by the current schema (so `bench
plot` and a reader of an older run keep working when the schema grows)."""

import json
from pathlib import Path

import pytest

from hnn_fast.bench.schema import validate

RESULTS = sorted((Path(__file__).resolve().parents[2] / "benchmarks" / "results").glob("*.json"))


def test_there_are_results_files():
    assert RESULTS


@pytest.mark.parametrize("path", RESULTS, ids=[p.name for p in RESULTS])
def test_results_file_matches_the_schema(path):
    assert validate(json.loads(path.read_text())) == []
