# fedsim: `make run` and `make test` work on a fresh machine (they create .venv).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
TOPO   ?= topologies/default.yaml
ARGS   ?=
RUNS   ?=
RUN    ?=
SWEEP  ?= topologies/sweeps/lora_compression.yaml

# One BLAS/Numba thread: results never depend on the host, timing stays stable.
export OMP_NUM_THREADS=1
export OPENBLAS_NUM_THREADS=1
export MKL_NUM_THREADS=1
export NUMBA_NUM_THREADS=1

.PHONY: setup run test test-all bench lint fmt compare report sweep clean results-doc

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,cluster]'
	@touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/fedsim run $(TOPO) $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest

test-all: $(STAMP)
	$(BIN)/python -m pytest -m "not bench"

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

lint: $(STAMP)
	$(BIN)/ruff format --check fedsim tests bench experiments
	$(BIN)/ruff check fedsim tests bench experiments

fmt: $(STAMP)
	$(BIN)/ruff format fedsim tests bench experiments
	$(BIN)/ruff check --fix fedsim tests bench experiments

results-doc: $(STAMP)
	$(BIN)/python -m fedsim.record.schema_doc docs/results.md

compare: $(STAMP)
	$(BIN)/fedsim compare $(RUNS)

report: $(STAMP)
	$(BIN)/fedsim report $(RUN)

sweep: $(STAMP)
	$(BIN)/fedsim sweep $(SWEEP)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
