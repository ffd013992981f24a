# flask-wink: `make run` starts the quickstart, `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test bench lint chromium postgres redis wrk clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "flask-wink needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/python -m quickstart

chromium:
	@sh scripts/ensure-chromium.sh

postgres:
	@sh scripts/ensure-postgres.sh

redis:
	@sh scripts/ensure-redis.sh

# The benchmarks' load generator; tests/test_bench.py runs the benchmark's machinery briefly.
wrk:
	@sh scripts/ensure-wrk.sh

test: lint chromium postgres redis wrk
	$(BIN)/python -m pytest

# ruff, and the layout's boundaries (import-linter contracts in pyproject.toml).
lint: $(VENV)/.installed-test
	$(BIN)/ruff check src quickstart tests benchmarks
	PYTHONPATH=. $(BIN)/lint-imports

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	@touch $@ $(VENV)/.installed $(VENV)/.installed-test

bench: $(VENV)/.installed-bench postgres wrk
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) instance .pytest_cache
