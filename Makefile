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

demo: install
	$(BIN)/snakemake --configfile config/demo.yaml --cores $(CORES)

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
