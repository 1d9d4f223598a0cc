# The README's commands. Each sets up .venv (torch, build tools, test tools), builds and installs
# hnn_fast into it without build isolation, then runs. With nothing changed, nothing is rebuilt.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEPS := $(VENV)/.deps-installed
INSTALLED := $(VENV)/.hnn_fast-installed
SOURCES := $(shell find csrc hnn_fast -type f \( -name '*.cpp' -o -name '*.cu' -o -name '*.h' -o -name '*.cuh' -o -name '*.py' \)) CMakeLists.txt pyproject.toml

.PHONY: build test bench bench-peers clean

build: $(INSTALLED)

$(DEPS): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

$(INSTALLED): $(DEPS) $(SOURCES)
	$(PY) -m pip install --quiet --no-build-isolation --no-deps .
	touch $@

test: $(INSTALLED)
	$(VENV)/bin/pytest -q tests

bench: $(INSTALLED)
	$(PY) benchmarks/bench_lif.py

clean:
	rm -rf build $(VENV)
