# Two entry points do all set-up on a fresh machine (see README.md):
#   make example   set up, then pack the example repository shipped in fixtures/
#   make test      set up, then lint, type-check and run every test tier
PYTHON ?= python3

.PHONY: setup install engine example test lint typecheck unit integration benchmark

install:
	$(PYTHON) -m pip install --quiet -e '.[dev]'

engine:
	scripts/setup-engine.sh

setup: install engine

example: setup
	repro pack fixtures/repos/paper-cpu

lint:
	ruff check .
	ruff format --check .

typecheck:
	mypy

test: setup lint typecheck
	$(PYTHON) -m pytest -q

unit: install
	$(PYTHON) -m pytest -q tests/unit

integration: setup
	$(PYTHON) -m pytest -q tests/integration
