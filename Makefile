# Two commands on a fresh clone (see README):
#   make demo   install everything into .venv, then run the whole workflow on the phantom data
#   make test   install everything into .venv, then run the test suite
PYTHON ?= python3
VENV ?= .venv
CORES ?= 2
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint clean-results

install: $(STAMP)

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

demo: install
	$(BIN)/snakemake --configfile config/demo.yaml --cores $(CORES)

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check workflow
	$(BIN)/snakemake --lint --configfile config/demo.yaml

clean-results:
	rm -rf results resources/phantom .snakemake
