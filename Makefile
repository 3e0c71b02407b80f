# Two commands do everything on a fresh machine (see README):
#   make book   install, run every chapter (quick profile), build the HTML book
#   make test   install, lint, run the tests, every chapter once and a strict book build
#   make check  lint and the fast unit tests (under two minutes; before a commit)
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
# The PDF after the HTML (xray-book pdf): auto = when a browser is found; never; always (fail without one).
PDF ?= auto
export TF_CPP_MIN_LOG_LEVEL ?= 2
# pip's config on some machines lists local mirrors that do not exist; hide that noise.
PIP_QUIET := 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)

.PHONY: book chapters train html test check lint unit unit-tf unit-jax nbval nbval-cheap book-check browser-check bench bench-fast venv clean clean-runs sync twins download linkcheck pdf

# [tf-cpu]: TensorFlow CPU, the default backend here (a plain `pip install .` keeps an environment's own);
# [book]: papermill, Jupyter Book, JupyterLab (the core package has no Jupyter stack).
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip $(PIP_QUIET)
	$(BIN)/python -m pip install --quiet -e '.[tf-cpu,book,test]' $(PIP_QUIET)
	@touch $(STAMP)

venv: $(STAMP)

## The main job: every chapter through papermill, then the book.
book: $(STAMP)
	$(BIN)/xray-book all --profile $(PROFILE) --pdf $(PDF) $(if $(JOBS),--jobs $(JOBS)) $(foreach s,$(SET),--set $(s))

chapters: $(STAMP)
	$(BIN)/xray-book run --profile $(PROFILE) $(if $(JOBS),--jobs $(JOBS)) $(foreach s,$(SET),--set $(s))

## Training only (no chapters, no book): e.g. `make train PROFILE=full` on a GPU machine.
train: $(STAMP)
	$(BIN)/xray-book train --profile $(PROFILE) $(foreach s,$(SET),--set $(s))

html: $(STAMP)
	$(BIN)/xray-book build

## The built book as one PDF, _build/pdf/xray-cnn-book.pdf (the book's download menu links to its copy in
## _build/html/_downloads/), printed by the browser the browser check finds. `make book` makes it too when
## a browser is found; here no browser or no built book is an error (exit 2), so a publishing job that runs it never ships a dead link.
pdf: $(STAMP)
	$(BIN)/xray-book pdf

## The real dataset from Kaggle (kagglehub: public, no account; about 800 MB, kept in ~/.cache/kagglehub),
## linked into DATA_DIR (default: $XRAY_DATA_DIR, else ./data), where the chapters look.
DATA_DIR ?=
download: $(STAMP)
	$(BIN)/xray-book download $(if $(DATA_DIR),--data-dir $(DATA_DIR))

## Every external link of the book checked online (Sphinx's linkcheck); exit 1 when one is broken.
## Reads the executed chapters in book/chapters/: `make book` first. The publishing workflow only reports it.
## Jupyter Book writes linkcheck's report into <path-output>/_build/html, so it gets its own folder
## beside the book: _build/linkcheck/_build/html/output.txt.
linkcheck: $(STAMP)
	$(BIN)/jupyter-book build . --path-output _build/linkcheck --builder linkcheck

## The tests: lint, unit tests (TensorFlow, then the backend-sensitive ones under JAX),
## the book on the synthetic stand-in (each chapter executed once, by papermill; its
## nbval-checked outputs then compared to the committed twin), the browser, the bench.
CI_RUNS := $(CURDIR)/.cache/ci-runs
UNIT_TESTS := --ignore=tests/book_checks --ignore=tests/browser tests
# pytest-xdist: one worker per core, each test file on one worker (`--dist loadfile`: a module-scoped
# fixture, such as the Colab-shaped venv, is built once). Under JAX one process already keeps the cores
# busy (XLA compiles on all of them): two workers were measured no faster there.
PARALLEL := -n auto --dist loadfile
## Each phase timed (xray-bench --phases: the table at the end, the record in .cache/test-phases.json).
## The JAX tests run beside the browser check, which mostly waits on Chromium, and nbval on two chapters;
## their output follows, in that order.
test: $(STAMP)
	$(BIN)/xray-bench --phases lint unit-tf book-check unit-jax+browser-check+nbval-cheap bench-fast

## Before a commit: lint and the unit tests but the slow ones, TensorFlow only, one worker per core.
check: $(STAMP)
	$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest -q $(PARALLEL) -m "not slow" $(UNIT_TESTS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

unit: unit-tf unit-jax

unit-tf: $(STAMP)
	$(BIN)/python -m pytest -q -rs $(PARALLEL) --durations=15 $(UNIT_TESTS)

unit-jax: $(STAMP)
	KERAS_BACKEND=jax $(BIN)/python -m pytest -q -m backend --durations=10 $(UNIT_TESTS)

## Every chapter executed once on the synthetic stand-in, the strict book build and its PDF
## (when a browser is found: the pages link it), then
## tests/book_checks: the built HTML, and each executed chapter against its twin with
## nbval's rules (tests/book_checks/test_twins_match.py; what `make nbval` checks by
## executing every notebook a second time).
book-check: $(STAMP)
	XRAY_DATA_DIR=synthetic XRAY_RUNS_DIR=$(CI_RUNS) $(BIN)/xray-book all --profile quick --pdf auto
	$(BIN)/python -m pytest -q tests/book_checks

## The built book in headless Chromium or Chrome: the first one found (tests/browser/book_browser.py
## says where it looks; XRAY_BROWSER=/path picks one). None found: skipped, with the reason printed;
## with CI set the run fails instead (.ci/run installs Chromium first on CI).
browser-check: $(STAMP)
	$(BIN)/python -m pytest -q -s -rs tests/browser

## nbval itself, the pytest plugin a course would copy, executing the two cheapest twins (chapter 1 and
## the front page, which reads book-check's runs): part of `make test`, so that path stays exercised.
NBVAL_CHEAP := notebooks/01_data_exploration.ipynb notebooks/index.ipynb
nbval-cheap: $(STAMP)
	XRAY_DATA_DIR=synthetic XRAY_RUNS_DIR=$(CI_RUNS) $(BIN)/python -m pytest -q -p no:cacheprovider \
		--nbval-lax --nbval-sanitize-with notebooks/nbval_sanitize.cfg $(NBVAL_CHEAP)

## nbval executing every twin itself (not part of `make test`: book-check compares the same cells).
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
## Trained afresh every time (TWIN_RUNS is emptied first): a reused run would put "Reusing finished run
## <this machine's path>" into the committed twins instead of the training log.
TWIN_RUNS := $(CURDIR)/.cache/twin-runs
twins: $(STAMP)
	rm -rf $(TWIN_RUNS)
	XRAY_DATA_DIR=synthetic XRAY_RUNS_DIR=$(TWIN_RUNS) $(BIN)/jupytext --to ipynb --set-kernel python3 \
		--execute notebooks/[0-9][0-9]_*.py notebooks/index.py
	$(BIN)/xray-book tidy notebooks/*.ipynb
	$(BIN)/jupytext --sync notebooks/*.ipynb

clean:
	rm -rf _build book/chapters/*.ipynb

clean-runs:
	rm -rf runs .cache/ci-runs
