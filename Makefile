# The README's commands. Each sets up .venv (torch, build tools, test tools), builds hnn_fast and
# installs it into .venv in editable mode without build isolation, then runs. Python edits need no
# rebuild; C++/CUDA edits rebuild incrementally (build/); with nothing changed, nothing is rebuilt.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEPS := $(VENV)/.deps-installed
INSTALLED := $(VENV)/.hnn_fast-installed
SOURCES := $(shell find csrc -type f) CMakeLists.txt pyproject.toml

.PHONY: build test lint format bench bench-peers clean

build: $(INSTALLED)

# The extras of pyproject.toml that tests need, installed by name (the editable install takes --no-deps).
TEST_EXTRAS := interop peers

$(DEPS): requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet $$($(PY) -c "import tomllib; \
		extras = tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']; \
		print(' '.join(p for name in '$(TEST_EXTRAS)'.split() for p in extras[name]))")
	touch $@

$(INSTALLED): $(DEPS) $(SOURCES)
	flock $(VENV)/.build-lock $(PY) -m pip install --quiet --no-build-isolation --no-deps --editable .
	touch $@

test: $(INSTALLED)
	$(VENV)/bin/pytest -q tests

# ruff (lint, import order, format) over the Python, clang-format over csrc/; reports, never rewrites.
CXX_SOURCES = $(shell find csrc -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh')
lint: $(DEPS)
	$(VENV)/bin/ruff check --quiet .
	$(VENV)/bin/ruff format --check --quiet .
	$(VENV)/bin/clang-format --dry-run --Werror $(CXX_SOURCES)

# What lint asks for, applied.
format: $(DEPS)
	$(VENV)/bin/ruff check --quiet --fix .
	$(VENV)/bin/ruff format --quiet .
	$(VENV)/bin/clang-format -i $(CXX_SOURCES)

bench: $(INSTALLED)
	$(PY) -m hnn_fast.cli bench --quick
	$(PY) -m hnn_fast.cli bench plot

# The peer libraries are the `peers` extra of pyproject.toml, installed by name so that the
# editable hnn_fast install is not rebuilt.
bench-peers: $(INSTALLED)
	$(PY) -m pip install --quiet $$($(PY) -c "import tomllib; \
		print(' '.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['peers']))")
	$(PY) -m hnn_fast.cli bench --quick --only peers

clean:
	rm -rf build $(VENV)
