# make run  — set everything up and start the platform on http://127.0.0.1:5000
# make test — set everything up and run the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DIST := hitrack/web/static/dist
FRONTEND_SOURCES := $(shell find frontend/src -type f 2>/dev/null) frontend/build.mjs
# Every module under hitrack/domain runs its docstring examples; fast is left out
# only while it becomes a package (drop the ignore once that has landed).

.PHONY: run test setup lint typecheck bench clean

run: setup
	$(BIN)/hitrack db upgrade
	$(BIN)/hitrack demo --if-empty
	$(BIN)/hitrack serve --host 127.0.0.1 --port 5000

test: setup lint typecheck
	cd frontend && npm test --silent
	$(BIN)/pytest
	$(BIN)/pytest --doctest-modules hitrack/domain

setup: $(VENV)/.installed $(DIST)/.built

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned to its CPU build, so sentence-transformers does not pull a CUDA one
	$(BIN)/python -m pip install --quiet 'torch==2.13.0'
	$(BIN)/python -m pip install --quiet -e '.[dev,attribution,spark]'
	touch $@

frontend/node_modules/.installed: frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(DIST)/.built: frontend/node_modules/.installed $(FRONTEND_SOURCES)
	cd frontend && npm run build --silent
	touch $@

lint: $(VENV)/.installed
	$(BIN)/ruff check hitrack tests benchmarks migrations
	$(BIN)/ruff format --check hitrack tests benchmarks migrations
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed
	$(BIN)/mypy hitrack

bench: setup
	$(BIN)/python benchmarks/settle_bench.py
	$(BIN)/python benchmarks/attribution_eval.py

clean:
	rm -rf $(VENV) frontend/node_modules $(DIST) .pytest_cache .mypy_cache .ruff_cache
