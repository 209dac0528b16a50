# liqspec developer commands. `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-long lint typecheck unit crosshair bench clean check-install mutation

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)  ## check a market, margin an account, replay a scenario, backtest a crash, stress a cascade, audit a log
	$(BIN)/liqspec check-market spec/markets/binance-btcusdt-2024-10-24.toml
	$(BIN)/liqspec margin --market spec/markets/binance-btcusdt-2024-10-24.toml \
	    --market spec/markets/binance-cyberusdt-2023-08-31.toml --account spec/accounts/demo-cross.toml
	$(BIN)/liqspec run spec/scenarios/adl-after-fund-exhausted.toml
	$(BIN)/liqspec backtest --fund 100000
	$(BIN)/liqspec stress --runs 4 --workers 2
	$(BIN)/liqspec audit spec/audit/two-violations.jsonl || test $$? -eq 1  # 1: the two seeded violations
	$(BIN)/liqspec audit spec/audit/venues/hyperliquid-node-fills.jsonl --format hyperliquid-node-fills \
	    --market spec/markets/hyperliquid-btc-2024.toml || test $$? -eq 1  # a venue's own stream

lint: $(STAMP)
	$(BIN)/ruff check reference proofs tests benchmarks scripts
	$(BIN)/ruff format --check reference proofs tests benchmarks scripts
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy --strict

unit: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

crosshair: $(STAMP)
	$(BIN)/python tests/symbolic/run_crosshair.py

test: lint typecheck unit crosshair  ## every check: ruff, import layers, mypy --strict, pytest (all groups), CrossHair

test-long: $(STAMP)  ## longer Hypothesis and CrossHair budgets
	HYPOTHESIS_PROFILE=long $(BIN)/python -m pytest -q -p no:cacheprovider tests/properties
	CROSSHAIR_BUDGET=long $(BIN)/python tests/symbolic/run_crosshair.py
	HOSTILE_ALL=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/hostile
	VECTORS_FULL=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/conformance/test_vectors.py

bench: $(STAMP)  ## print the benchmark figures
	$(BIN)/python benchmarks/bench_margin.py
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_optimal.py
	$(BIN)/python benchmarks/bench_scale.py
	$(BIN)/python benchmarks/bench_backtest.py
	$(BIN)/python benchmarks/bench_stress.py --positions 10000 --points 240 --runs 4
	$(BIN)/python benchmarks/bench_audit.py
	$(BIN)/python benchmarks/bench_audit_memory.py
	$(BIN)/python benchmarks/bench_proofs.py
	$(BIN)/python benchmarks/bench_conformance.py

mutation: $(STAMP)  ## seeded engine mutants against the vectors, then the tests (slow)
	$(BIN)/python scripts/mutation.py --json mutation.jsonl

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis

check-install:  ## a clean clone installed with pip into a fresh venv, used from an empty folder
	bash scripts/check-install.sh
