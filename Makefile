# The two newcomer commands: `make demo` and `make test` (see README.md).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test setup setup-dev lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

setup: $(BIN)/python node_modules/.package-lock.json
	$(BIN)/pip install --quiet -e .

setup-dev: $(BIN)/python node_modules/.package-lock.json
	$(BIN)/pip install --quiet -e ".[dev]"

demo: setup
	$(BIN)/relay demo $(DEMO_ARGS)

lint: setup-dev
	$(BIN)/ruff check relay tests
	$(BIN)/ruff format --check relay tests
	$(BIN)/mypy relay

test: lint
	$(BIN)/pytest $(PYTEST_ARGS)
