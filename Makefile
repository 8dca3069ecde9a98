# Everything a fresh machine needs is here: `make demo` and `make test` set up on their own.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp
ENDPOINT ?= https://api.viesus.cloud/graphql

.PHONY: setup test lint typecheck pytest generate generate-check pull schema-diff schema-check demo webapp serve bench bench-large bench-buckets bench-import bench-memory soak fuzz clean

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
# Exit 0 no drift, 1 breaking drift, 3 non-breaking drift (the committed SDL is stale).
schema-check: setup
	$(BIN)/python -m codegen check --endpoint $(ENDPOINT)

# Real photos bundled with scikit-image, degraded on the fly, enhanced by the CLI against an
# in-process emulator (--local: no key, no network), upscaled X2, with a before/after sheet.
DEMO_OUT := demo-out
demo: setup
	rm -rf $(DEMO_OUT)
	$(BIN)/python -m examples.demo $(DEMO_OUT)/inputs
	$(BIN)/viesus enhance $(DEMO_OUT)/inputs --local --out $(DEMO_OUT)/results --yes \
		--mode ENHANCE --upscale X2 --denoise 0.5 --artifacts-detection-removal AUTO_AI \
		--sidecar --compare $(DEMO_OUT)/before-after.png
	@echo "results: $(CURDIR)/$(DEMO_OUT)/results"
	@echo "before/after: $(CURDIR)/$(DEMO_OUT)/before-after.png"

# The web-app example (examples/webapp/): pick photos in a browser, watch them upload and
# enhance. Against VIESUS_ENDPOINT (+ VIESUS_API_KEY) if set, else an in-process emulator.
WEBAPP_PORT ?= 8000
webapp: setup
	$(BIN)/python -m examples.webapp --port $(WEBAPP_PORT)

serve: setup
	$(BIN)/viesus serve

# Four clients, URL and file sources, 100 and 1,000 images, 4 and 16 server slots, emulator at
# time scale 0.1: counted by a proxy and the emulator, written to BENCHMARKS.md + .png. About
# 25 minutes on two busy cores; `python -m benchmarks --help` narrows it (sizes, slots, ...).
bench: setup
	$(BIN)/python -m benchmarks

# The same at 10,000 images: BENCHMARKS-large.md + .png.
bench-large: setup
	$(BIN)/python -m benchmarks --large

# The import's cost next to its dependencies' (about a minute).
# Bucket sources (moto's S3 server) next to local files, 1,000 images: requests per image and
# the image bytes the client sends (issue 22). A few minutes.
bench-buckets: setup
	$(BIN)/python -m benchmarks.buckets

bench-import: setup
	$(BIN)/python -m benchmarks.import_time

# The client's peak RSS with ~1 MB and ~100 MB files, per format and step (a few minutes).
bench-memory: setup
	$(BIN)/python -m benchmarks.file_sizes

# schemathesis against a running emulator: EXAMPLES generated documents per root field and
# mode (valid, invalid); fails on any 5xx, dropped connection, malformed answer or job crash.
EXAMPLES ?= 300
fuzz: setup
	$(BIN)/python -m tests.emulator.fuzzing --examples $(EXAMPLES)

# Never pay twice under kill -9 and faults, on 3 seeds (minutes; see RELIABILITY.md).
SEEDS ?= 1 2 3
soak: setup
	$(BIN)/python -m tests.soak.soak --seeds $(SEEDS)

# Everything the targets above create: the venv (with its setup stamp), tool caches, the demo's
# output, build output, schema-diff's temporary file and Python's bytecode caches.
clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache $(DEMO_OUT) dist build .schema-before.graphql
	find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
