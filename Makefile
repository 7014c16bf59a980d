# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test lint install bench fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Serve a populated demo on SQLite (./salesledger.db) at http://$(HOST):$(PORT) (docs at /docs)
run: $(STAMP)
	$(BIN)/salesledger demo --if-empty
	$(BIN)/salesledger serve --host $(HOST) --port $(PORT) --demo-token

## Lint, format and type checks, then the whole suite: SQLite always, PostgreSQL when reachable
## (REQUIRE_POSTGRES=1 makes it mandatory)
test: $(STAMP) lint
	$(BIN)/pytest

## ruff (lint and format) over everything; mypy, strict on domain/ and application/
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## Fuzz every route from the OpenAPI schema with many more cases than `make test` runs
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-60} $(BIN)/pytest tests/e2e/test_fuzz.py

## Rebuild throughput on both backends (see bench/rebuild.py for options)
bench: $(STAMP)
	$(BIN)/python bench/rebuild.py

clean:
	rm -rf $(VENV) salesledger.db salesledger.db-wal salesledger.db-shm salesledger.db.projectors.lock .salesledger-admin-token
