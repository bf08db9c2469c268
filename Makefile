# Two commands on a fresh clone (see README):
#   make demo   install everything into .venv, then run the whole workflow on the phantom data
#   make test   install everything into .venv, then run the test suite (make test-fast: no workflow tests)
PYTHON ?= python3
VENV ?= .venv
CORES ?= 2
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast lint clean-results

install: $(STAMP)

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# On the CPU one thread a job and as many jobs at once as cores: a two-thread job left a core
# idle through its imports and its single-threaded parts (the demo's jobs summed 1,043 s of wall
# time on 2 cores and the run took 1,013 s). The "gpu" resource, which the rules that would use a
# GPU claim, then only caps how many of them run at once.
DEMO_SLOTS ?= --max-threads 1 --resources gpu=$(CORES)

demo: install
	$(BIN)/snakemake --configfile config/demo.yaml --cores $(CORES) $(DEMO_SLOTS)

# both cores: pytest-xdist, a test file per worker at a time (--dist loadfile), so the tests that
# share one demo run (or one protocol run) stay on one worker: pytest-xdist 3.8's loadgroup does
# not group under pytest 9 (measured: both workers ran the demo)
test: install
	$(BIN)/python -m pytest -n $(CORES) --dist loadfile --durations=40

# everything but the workflow tests (which run Snakemake): the quick loop while developing
test-fast: install
	$(BIN)/python -m pytest -n $(CORES) --dist loadfile -m "not workflow and not slurm"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check workflow
	$(BIN)/snakemake --lint --configfile config/demo.yaml

clean-results:
	rm -rf results resources/phantom resources/phantom_external .snakemake
