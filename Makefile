# The README's two commands are `make main` and `make test`; each sets up its own virtual environment.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BA := $(VENV)/bin/biper-analysis
STAMP := $(VENV)/.installed
# Everything the main job writes goes to untracked folders: a clone stays clean after `make main`.
OUT ?= out
RUNS ?= runs/sweep
RUN ?= $(RUNS)/biper-w20-s0
export MPLBACKEND ?= Agg

.PHONY: setup main test test-all gallery notebooks lint clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt torch==2.13.0
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,parquet]'
	touch $(STAMP)

setup: $(STAMP)

## The main job on the embedded default: derivation, witnesses, a QE sweep, the training sweep on Fashion-MNIST
## (parallel single-threaded runs, cached in $(RUNS): a second run reuses it), the analysis of one run with every
## weight law against its initial weights, every figure and every paper check — all into $(OUT)/.
main: setup
	mkdir -p $(OUT)
	$(BA) derive
	$(BA) verify --samples 2e6 --seed 0
	$(BA) sweep --omega0 1:200:400 --log --b 0.01,0.037,0.05 --gamma opt --out $(OUT)/sweep.csv --plot $(OUT)/sweep.png
	$(BA) train-sweep --out $(RUNS)
	$(BA) fit-b $(RUN) --law all --reference $(RUN)/init.pth.tar --json $(OUT)/fit-b.json --csv $(OUT)/fit-b.csv \
	    --plot $(OUT)/fit-b.png --plot-layers $(OUT)/fit-b-layers --save-laws $(OUT)/laws.json
	$(BA) figures --out $(OUT)/figures --runs $(RUNS)
	@# A failed paper claim (exit 1) is a finding, reported in $(OUT)/REPORT.md; any other error stops the job.
	@$(BA) check --runs $(RUNS) --report $(OUT)/REPORT.md; rc=$$?; \
	  if [ $$rc -eq 1 ]; then echo "main job done; some paper claims FAILED: see $(OUT)/REPORT.md"; \
	  elif [ $$rc -ne 0 ]; then exit $$rc; else echo "main job done: see $(OUT)/ (figures, REPORT.md, fit-b)"; fi

## The committed gallery (figures/ and paper_checks/REPORT.md), regenerated from the main job's results on purpose.
gallery: main
	$(BA) figures --out figures --runs $(RUNS)
	@$(BA) check --runs $(RUNS) --report paper_checks/REPORT.md || [ $$? -eq 1 ]

## Every test not marked slow (the CI command), after the lint.
test: setup lint
	$(PY) -m pytest -m "not slow" -q

## ruff's formatter and linter (pyproject.toml); `.venv/bin/ruff format .` formats.
lint: setup
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

## Everything, slow real-training and large Monte Carlo tests included.
test-all: setup lint
	$(PY) -m pytest -q

## The .ipynb files from their jupytext .py sources (commit both).
notebooks: setup
	$(VENV)/bin/jupytext --sync notebooks/0*.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
