# Muster: the README's two commands are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test gen install lint typecheck seed clean bench image certs

run: install ## set up, start PostgreSQL (embedded unless MUSTER_DATABASE_URL), migrate, seed, serve
	$(BIN)/muster run

test: install ## lint, types, then the whole suite on PostgreSQL (README: which database)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

install: $(STAMP)

# One stamp for venv + dependencies + generated code; redone when any input changes.
$(STAMP): pyproject.toml $(shell find proto -name '*.proto') scripts/gen_protos.py
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "grpcio-tools==1.81.1" "googleapis-common-protos>=1.70"
	$(BIN)/python scripts/gen_protos.py
	$(BIN)/pip install -qq -e ".[dev]"
	@touch $(STAMP)

gen: ## regenerate code from proto/ (never edit gen/ by hand)
	$(BIN)/python scripts/gen_protos.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

seed: install ## load the Jilin reference network into MUSTER_DATABASE_URL (idempotent)
	$(BIN)/muster seed

bench: install ## RecordScan(s) throughput and p50/p99 on PostgreSQL, beside gRPC echo and raw SQL (benchmarks/README.md)
	$(BIN)/python -m benchmarks.scan_bench $(BENCH_ARGS)

certs: install ## a development CA and certificates for TLS / mutual TLS, in var/certs
	$(BIN)/muster certs --out var/certs

image: ## build the container image (needs a Docker engine; deploy/README.md)
	docker build -f deploy/Dockerfile -t $${MUSTER_IMAGE:-muster:dev} .

clean:
	rm -rf $(VENV) gen .pytest_cache .mypy_cache .ruff_cache
