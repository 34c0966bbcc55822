# The README's two commands: `make lab` and `make test`. Everything installs into .venv.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install lab test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
	$(BIN)/python -m pip install -q -e ".[torch,lab,test]" 2>&1 | grep -v "is ignored" || true
	$(BIN)/python -c "import jupyter_dlbench, torch, papermill, duckdb" # fail here if the install did
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

install: $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: install lint
	$(BIN)/python -m pytest -q -ra --durations=15

lab: install
	DLBENCH_HOME=$(CURDIR)/examples/.dlbench $(BIN)/jupyter lab --notebook-dir=examples

bench: install
	$(BIN)/python benchmarks/run.py $(if $(QUICK),--quick,)

clean:
	rm -rf $(VENV) node_modules lib jupyter_dlbench/_labextension
