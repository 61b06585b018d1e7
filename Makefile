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
# `make bench-flower` gets a venv of its own, so Ray never enters .venv.
FLOWER_VENV  ?= .venv-flower
FLOWER_STAMP := $(FLOWER_VENV)/.installed-stamp
FLOWER_ARGS  ?=

# One BLAS/Numba thread: results never depend on the host, timing stays stable.
export OMP_NUM_THREADS=1
export OPENBLAS_NUM_THREADS=1
export MKL_NUM_THREADS=1
export NUMBA_NUM_THREADS=1

.PHONY: setup run test test-all fuzz bench bench-scale lint fmt compare report sweep golden clean results-doc devices-doc cli-doc

# The example task plug-in (examples/fedsim-task-example) is installed too: the tests
# run a topology through its entry point, as a user's own package would be found.
EXAMPLE_TASK := examples/fedsim-task-example
$(STAMP): pyproject.toml $(EXAMPLE_TASK)/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,cluster,iot]' -e $(EXAMPLE_TASK)
	@touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/fedsim run $(TOPO) $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest

test-all: $(STAMP)
	$(BIN)/python -m pytest -m "not bench"

# A fuzz campaign over scenarios nobody ran yet: FUZZ_SEED picks them (a new one each
# time unless given; it is printed so a finding can be repeated), FUZZ_EXAMPLES how many.
FUZZ_EXAMPLES ?= 2000
fuzz: $(STAMP)
	@seed=$${FUZZ_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}; \
	echo "fuzz campaign: FUZZ_SEED=$$seed FUZZ_EXAMPLES=$(FUZZ_EXAMPLES)"; \
	FEDSIM_FUZZ_SEED=$$seed FEDSIM_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) \
	  $(BIN)/python -m pytest -m slow tests/test_fuzz_scenarios.py -k many_generated

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

# The scale table (docs/performance.md): one process per case, auditor timed on its own.
# SCALE=100000 adds the 100,000-registered case (minutes; run it alone).
SCALE ?= 100 1000 10000
bench-scale: $(STAMP)
	$(BIN)/python bench/scale.py --table $(SCALE)

lint: $(STAMP)
	$(BIN)/ruff format --check fedsim tests bench experiments examples
	$(BIN)/ruff check fedsim tests bench experiments examples

fmt: $(STAMP)
	$(BIN)/ruff format fedsim tests bench experiments examples
	$(BIN)/ruff check --fix fedsim tests bench experiments examples

results-doc: $(STAMP)
	$(BIN)/python -m fedsim.record.schema_doc docs/results.md

devices-doc: $(STAMP)
	$(BIN)/python -m fedsim.devices_doc docs/topology.md

cli-doc: $(STAMP)
	$(BIN)/python -m fedsim.cli.doc README.md

compare: $(STAMP)
	$(BIN)/fedsim compare $(RUNS)

report: $(STAMP)
	$(BIN)/fedsim report $(RUN)

sweep: $(STAMP)
	$(BIN)/fedsim sweep $(SWEEP)

# Regenerate tests/golden/*.json (test_golden.py compares fresh runs to them). Only when
# a change is meant to alter results; commit the new goldens with that change.
golden: $(STAMP)
	$(BIN)/python tests/golden_runs.py

$(FLOWER_STAMP): pyproject.toml
	@test -x $(FLOWER_VENV)/bin/python || $(PYTHON) -m venv $(FLOWER_VENV)
	$(FLOWER_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[flower]'
	@touch $(FLOWER_STAMP)

# fedsim vs Flower's Ray simulation on the same job, interleaved; writes
# bench/results/flower.md. FLOWER_ARGS e.g. "--cases 100x20 --repeats 1".
.PHONY: bench-flower
bench-flower: $(FLOWER_STAMP)
	$(FLOWER_VENV)/bin/python bench/flower_compare.py $(FLOWER_ARGS)

clean:
	rm -rf $(VENV) $(FLOWER_VENV) .pytest_cache .ruff_cache
