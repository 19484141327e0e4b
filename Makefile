# Alliance — the two commands are `make demo` (run the system) and `make test` (run every test).
# Everything installed or started lives under .local/ (git-ignored); nothing is needed by hand
# beyond Python 3.11+, Java 17, Maven, Go and the openssl CLI (the broker's TLS certificate).

SHELL := /bin/bash
UV_VERSION := 0.13.9
BOOTSTRAP := .local/bootstrap
UV := $(BOOTSTRAP)/bin/uv
PY := .venv/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy

.PHONY: setup up down status demo test unit e2e lint fmt eval-matching bench clean compose-env contracts-html

$(UV):
	@command -v python3 >/dev/null || { echo "python3 (3.11+) is required"; exit 2; }
	python3 -m venv $(BOOTSTRAP)
	$(BOOTSTRAP)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: $(UV) uv.lock pyproject.toml shared/pyproject.toml matching/pyproject.toml console/pyproject.toml $(wildcard services/*/pyproject.toml)
	$(UV) sync --all-packages --frozen
	@touch $@

setup: .venv/.synced

up: setup  ## start Kafka, FerretDB, Jaeger and VictoriaMetrics (installs them the first time)
	$(PY) deploy/local/stack.py up

down:  ## stop the services and the local stack
	@if [ -x $(PY) ]; then $(PY) deploy/local/stack.py down --services; fi

status: setup
	$(PY) deploy/local/stack.py status

demo: setup  ## stack + services + a realistic scenario; leaves everything running
	$(PY) deploy/local/stack.py up --services
	$(PY) deploy/demo/scenario.py
	@$(PY) deploy/local/stack.py addresses

compose-env: setup  ## passwords for docker compose into .env and the brokers' TLS files (git-ignored), generated once
	$(PY) deploy/docker/compose_env.py

eval-matching: setup  ## precision and recall of person matching per class, beside a peer (nomenklatura, as yente scores)
	@echo "== Alliance matcher: per-class set (targets: precision 0.98, recall 0.95, every class 0.85, false matches 0.05)"
	@.venv/bin/alliance-match evaluate matching/evaluation/person_pairs_classes.csv --min-precision 0.98 --min-recall 0.95 --min-class-recall 0.85 --max-class-false-match 0.05
	@echo "== Alliance matcher: person_pairs.csv"
	@.venv/bin/alliance-match evaluate matching/evaluation/person_pairs.csv --min-precision 0.98 --min-recall 0.95
	@echo "== Alliance matcher: person_pairs_hard.csv"
	@.venv/bin/alliance-match evaluate matching/evaluation/person_pairs_hard.csv --min-precision 0.98 --min-recall 0.95
	@echo "== Peer: OpenSanctions nomenklatura logic-v2 at 0.7"
	@$(PY) matching/evaluation/peer_nomenklatura.py matching/evaluation/person_pairs_classes.csv
	@$(PY) matching/evaluation/peer_nomenklatura.py matching/evaluation/person_pairs.csv
	@$(PY) matching/evaluation/peer_nomenklatura.py matching/evaluation/person_pairs_hard.csv
	@echo "== What the bounds on a name cost: each labelled pair, the detained side padded to the contract's limits"
	@$(PY) matching/evaluation/long_names.py matching/evaluation/person_pairs_classes.csv matching/evaluation/person_pairs.csv matching/evaluation/person_pairs_hard.csv

bench: up  ## events/s, latency, store operations and idle CPU against a raw Kafka floor (BENCH_ARGS=--quick); the fugitive index at 100,000
	$(PY) deploy/bench/bench.py $(BENCH_ARGS)
	$(PY) deploy/bench/fugitive_index.py $(FUGITIVE_ARGS)

contracts-html: setup  ## the HTML reference of the contracts (AsyncAPI's generator), into .local/contracts-html
	$(PY) deploy/contracts/contracts.py html

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/lint-imports
	$(PY) deploy/contracts/contracts.py check

fmt: setup
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

unit: setup
	$(PY) -m pytest -m "not e2e"

e2e: up
	$(PY) -m pytest -m e2e

test: up lint  ## every test: unit, then end-to-end on the real broker and store
	$(PY) -m pytest

clean: down
	rm -rf .local .venv
