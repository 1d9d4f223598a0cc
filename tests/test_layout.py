"""The package's layering: the kernel library (hnn_fast.ops, .nn, .reference, .options, .data) imports
none of its applications (the networks, the training runtime, the benchmark suite), each network
imports no other, and every module imports."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys

import pytest

APPLICATIONS = ("hnn_fast.networks", "hnn_fast.train", "hnn_fast.bench", "hnn_fast.cli")
NETWORKS = sorted(
    f"hnn_fast.networks.{info.name}"
    for info in pkgutil.iter_modules(importlib.import_module("hnn_fast.networks").__path__)
    if info.ispkg
)


def _raise(name: str) -> None:
    # walk_packages would skip a package that fails to import, and with it every check of its modules.
    raise ImportError(f"{name} does not import")


def _modules(package: str = "hnn_fast") -> list[str]:
    """The package and every Python module below it (not the compiled libraries beside them)."""
    walked = pkgutil.walk_packages(importlib.import_module(package).__path__, f"{package}.", _raise)
    python = [info.name for info in walked if info.module_finder.find_spec(info.name).origin.endswith(".py")]
    return [package, *sorted(python)]


def _under(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(f"{p}.") for p in packages)


LIBRARY = [m for m in _modules() if not _under(m, APPLICATIONS)]

# Imports each module in turn in a fresh interpreter and reports, for the first one that pulls in a
# forbidden module, which it pulled in.
_PROBE = """
import importlib, json, sys
modules, forbidden = json.loads(sys.argv[1])
for name in modules:
    importlib.import_module(name)
    pulled = sorted(m for m in sys.modules if any(m == f or m.startswith(f + ".") for f in forbidden))
    if pulled:
        print(json.dumps([name, pulled]))
        break
"""


def _first_forbidden_import(modules: list[str], forbidden: list[str]) -> list | None:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps([modules, forbidden])],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def test_the_layout_is_what_the_checks_below_assume():
    assert {"hnn_fast.ops", "hnn_fast.nn", "hnn_fast.reference", "hnn_fast.data"} <= set(LIBRARY)
    assert {"hnn_fast.networks.hsn", "hnn_fast.networks.hmn", "hnn_fast.networks.hrn"} <= set(NETWORKS)


def test_the_kernel_library_imports_no_application():
    assert _first_forbidden_import(LIBRARY, list(APPLICATIONS)) is None


@pytest.mark.parametrize("network", NETWORKS)
def test_a_network_imports_no_other_network(network):
    others = [n for n in NETWORKS if n != network]
    assert _first_forbidden_import(_modules(network), others) is None


@pytest.mark.parametrize("module", [m for m in _modules() if m != "hnn_fast"])
def test_every_module_imports(module):
    importlib.import_module(module)


def test_the_package_tables_name_importable_objects():
    from hnn_fast import networks
    from hnn_fast.train import Experiment

    for name, entry in networks.EXPERIMENTS.items():
        experiment = networks.load(entry)
        assert issubclass(experiment, Experiment) and experiment.name == name
    assert all(callable(networks.load(entry)) for entry in networks.BENCHMARK_MODELS.values())
