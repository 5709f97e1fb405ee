# The README's two commands are `make main` and `make test`; each sets up its own virtual environment.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BA := $(VENV)/bin/biper-analysis
STAMP := $(VENV)/.installed
OUT ?= out
# Fewer threads than cores: the test suite and training are fastest this way on a 2-core machine.
export OMP_NUM_THREADS ?= 2
export MPLBACKEND ?= Agg

.PHONY: setup main test test-all clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt torch==2.13.0
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

## The main job on the embedded default: derivation, witnesses, a QE sweep, a short real training sweep on
## Fashion-MNIST (cached in $(RUNS): a second run reuses it), its checkpoint analysis, every figure, every paper check.
RUNS ?= runs/sweep
main: setup
	mkdir -p $(OUT)
	$(BA) derive
	$(BA) verify --samples 2000000 --seed 0
	$(BA) sweep --omega0 1:200:400 --b 0.01,0.037,0.05 --gamma opt --out $(OUT)/sweep.csv --plot $(OUT)/sweep.png
	$(BA) train-sweep --out $(RUNS)
	$(BA) fit-b $(RUNS)/biper-w20-s0 --json $(OUT)/fit-b-biper-w20-s0.json --csv $(OUT)/fit-b-biper-w20-s0.csv \
	    --plot $(OUT)/fit-b-biper-w20-s0.png
	$(BA) figures --out figures --runs $(RUNS)
	@# A failed paper claim (exit 1) is a finding, reported in paper_checks/REPORT.md; any other error stops the job.
	@$(BA) check --runs $(RUNS); rc=$$?; \
	  if [ $$rc -eq 1 ]; then echo "main job done; some paper claims FAILED: see paper_checks/REPORT.md"; \
	  elif [ $$rc -ne 0 ]; then exit $$rc; else echo "main job done: see figures/, $(OUT)/ and paper_checks/REPORT.md"; fi

## Every test not marked slow (the CI command).
test: setup
	$(PY) -m pytest -m "not slow" -q

## Everything, slow real-training and large Monte Carlo tests included.
test-all: setup
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
