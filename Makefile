# The two commands of the README: `make demo` and `make test`.
# Both build the project's virtualenv from pyproject.toml first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit integration e2e services bytecode clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/arms-sync demo

services:
	scripts/ensure-services.sh

# The tests start `arms-sync`, workers and gateways in hundreds of processes.
# Compiled bytecode spares each one compiling the package again, which it
# would where the environment sets PYTHONDONTWRITEBYTECODE.
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q sync workers

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/check_core_imports.py

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP) services bytecode
	$(BIN)/pytest tests/integration

e2e: $(STAMP) services bytecode
	$(BIN)/pytest tests/e2e

# Most end-to-end tests wait on processes they started (workers, gateways,
# the CLI), so the suite runs in one pytest process per core (at most 4),
# each with its own Redis database and PostgreSQL databases.
test: $(STAMP) services lint typecheck bytecode
	$(BIN)/pytest --numprocesses auto --maxprocesses 4

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
