# Everything a fresh machine needs is here: `make demo` and `make test` set up on their own.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp
ENDPOINT ?= https://api.viesus.cloud/graphql

.PHONY: setup test lint typecheck pytest generate generate-check pull schema-diff schema-check demo serve bench bench-large clean

setup: $(STAMP)

# Reinstalls only when the project metadata changed (idempotent and fast otherwise).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

test: setup generate-check lint typecheck pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest -q

generate: setup
	$(BIN)/python -m codegen generate

generate-check: setup
	$(BIN)/python -m codegen generate --check

# Introspect the live API into schema/viesus.graphql (needs VIESUS_API_KEY), then review:
pull: setup
	$(BIN)/python -m codegen pull --endpoint $(ENDPOINT)

schema-diff: setup
	git show HEAD:schema/viesus.graphql > .schema-before.graphql
	$(BIN)/python -m codegen diff .schema-before.graphql schema/viesus.graphql; rc=$$?; rm -f .schema-before.graphql; exit $$rc

# Drift check for CI of a user's project: pull to memory, diff against the committed SDL.
schema-check: setup
	$(BIN)/python -m codegen check --endpoint $(ENDPOINT)

demo: setup
	$(BIN)/python -m examples.demo

serve: setup
	$(BIN)/viesus serve

# Four clients, URL and file sources, 100 and 1,000 images, 4 and 16 server slots (a few
# minutes): counted by a proxy and the emulator, written to BENCHMARKS.md + BENCHMARKS.png.
bench: setup
	$(BIN)/python -m benchmarks

# The same at 10,000 images: BENCHMARKS-large.md + .png.
bench-large: setup
	$(BIN)/python -m benchmarks --large

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
