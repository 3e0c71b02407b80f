# Two commands do everything on a fresh machine (see README):
#   make book   install, run every chapter (quick profile), build the HTML book
#   make test   install, run the tests, the notebooks (nbval) and a strict book build
# Each creates or updates .venv from pyproject.toml; a second run installs nothing.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := book

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROFILE ?= quick
SET ?=
JOBS ?=
export TF_CPP_MIN_LOG_LEVEL ?= 2
# pip's config on some machines lists local mirrors that do not exist; hide that noise.
PIP_QUIET := 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)

.PHONY: book chapters train html test unit nbval book-check browser-check bench bench-fast venv clean clean-runs sync twins

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip $(PIP_QUIET)
	$(BIN)/python -m pip install --quiet -e '.[test]' $(PIP_QUIET)
	@touch $(STAMP)

venv: $(STAMP)

## The main job: every chapter through papermill, then the book.
book: $(STAMP)
	$(BIN)/xray-book all --profile $(PROFILE) $(if $(JOBS),--jobs $(JOBS)) $(foreach s,$(SET),--set $(s))

chapters: $(STAMP)
	$(BIN)/xray-book run --profile $(PROFILE) $(if $(JOBS),--jobs $(JOBS)) $(foreach s,$(SET),--set $(s))

## Training only (no chapters, no book): e.g. `make train PROFILE=full` on a GPU machine.
train: $(STAMP)
	$(BIN)/xray-book train --profile $(PROFILE) $(foreach s,$(SET),--set $(s))

html: $(STAMP)
	$(BIN)/xray-book build

## The tests: unit tests (TensorFlow, then the backend-sensitive ones under JAX),
## the book on the synthetic stand-in, and nbval re-running every notebook.
CI_RUNS := $(CURDIR)/.cache/ci-runs
test: $(STAMP)
	$(MAKE) --no-print-directory unit book-check browser-check nbval bench-fast

unit: $(STAMP)
	$(BIN)/python -m pytest -q -rs --ignore=tests/book_checks --ignore=tests/browser tests
	KERAS_BACKEND=jax $(BIN)/python -m pytest -q -m backend --ignore=tests/book_checks --ignore=tests/browser tests

book-check: $(STAMP)
	XRAY_DATA_DIR=synthetic XRAY_RUNS_DIR=$(CI_RUNS) $(BIN)/xray-book all --profile quick
	$(BIN)/python -m pytest -q tests/book_checks

## The built book in headless Chromium (Debian's chromium; installed here when missing).
browser-check: $(STAMP)
	@command -v chromium >/dev/null || { echo "installing Debian's chromium for the browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	$(BIN)/python -m pytest -q -s tests/browser

nbval: $(STAMP)
	XRAY_DATA_DIR=synthetic XRAY_RUNS_DIR=$(CI_RUNS) $(BIN)/python -m pytest -q -p no:cacheprovider \
		--nbval-lax --nbval-sanitize-with notebooks/nbval_sanitize.cfg notebooks

## Speed figures (printed, never asserted). `make bench` for the full table (22 min here with three backends).
SHARED_DATA ?= $(abspath ../shared/data)
BENCH_DATA = $(if $(wildcard $(SHARED_DATA)/COVID-19_Radiography_Dataset),--data $(SHARED_DATA),--skip-data)
bench-fast: $(STAMP)
	$(BIN)/xray-bench --fast $(BENCH_DATA)

bench: $(STAMP)
	$(BIN)/xray-bench $(BENCH_DATA)

## Re-pair notebooks after editing a .py outside JupyterLab.
sync: $(STAMP)
	$(BIN)/jupytext --sync notebooks/*.py

## Regenerate the committed .ipynb twins: executed on the synthetic stand-in with
## the quick profile (deterministic), the outputs nbval compares against.
twins: $(STAMP)
	XRAY_DATA_DIR=synthetic XRAY_RUNS_DIR=$(CI_RUNS) $(BIN)/jupytext --to ipynb --set-kernel python3 \
		--execute notebooks/[0-9][0-9]_*.py notebooks/index.py
	$(BIN)/xray-book tidy notebooks/*.ipynb
	$(BIN)/jupytext --sync notebooks/*.ipynb

clean:
	rm -rf _build book/chapters/*.ipynb

clean-runs:
	rm -rf runs .cache/ci-runs
