# Partner Portal. `make run` and `make test` work on a machine with nothing but Python 3.11+.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test lint bench bench-sync bench-scale install migrate seed clean

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

install: $(VENV)/.installed

## Portal + Celery worker + beat on SQLite and a private Redis, with demo data, at http://127.0.0.1:$(PORT)
run: install
	PORT=$(PORT) $(PY) -m config.devstack

## The whole test suite (SQLite + a private Redis unless DATABASE_URL / REDIS_URL are set)
test: install
	$(PY) -m config.embedded_redis -- $(PY) -m pytest $(PYTEST_ARGS)

## Lint (ruff) and import layers (import-linter contracts in pyproject.toml)
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

migrate: install
	$(PY) manage.py migrate

seed: install
	$(PY) manage.py seed_demo

clean:
	rm -rf .run .demo db.sqlite3 staticfiles

## Benchmarks: limiter, token endpoint and gateway, each beside its peer in the same run (a table with ratios, then a JSON line)
bench: install
	$(PY) -m config.embedded_redis -- $(PY) tools/bench.py

## Sync engine end to end: N accounts, a real server, W Celery workers killed at random (prints a table and a JSON line)
## e.g. make bench-sync BENCH_SYNC_ARGS="--accounts 1000 --workers 4"
## --strategy reactive|celery-rate-limit|paced|all: the engine (paced, default) beside what clients usually do
BENCH_SYNC_ARGS ?=
bench-sync: install
	$(PY) -m config.embedded_redis -- $(PY) tools/bench_sync.py $(BENCH_SYNC_ARGS)

## At scale on PostgreSQL and Redis: dispatcher over 300,000 streams, limiter memory and p99 over 100,000 pools, usage
## rollup of 100,000 installations, sync upserts at 1,000,000 records (a table and a JSON line; docs/scaling.md)
## e.g. make bench-scale BENCH_SCALE_ARGS=--quick
BENCH_SCALE_ARGS ?=
bench-scale: install
	$(PY) -m config.embedded_redis -- $(PY) tools/bench_scale.py $(BENCH_SCALE_ARGS)
