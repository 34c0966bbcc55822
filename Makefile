# The README's two commands: `make lab` and `make test`. Everything installs into .venv and
# node_modules; nothing is needed beforehand but Python 3.11, Node 20, make and apt.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP := $(BIN)/python -m pip
QUIET_PIP := 2>&1 | grep -v "is ignored" || true
JLPM := PATH="$(abspath $(BIN)):$$PATH" PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/jlpm
LABEXT_SRC := $(shell find labextension/src labextension/style labextension/schema -type f 2>/dev/null) package.json tsconfig.json
LABEXT := jupyter_dlbench/_labextension/package.json
LABEXT_SHARE := $(VENV)/share/jupyter/labextensions/jupyter-dlbench
CHROMIUM ?= /usr/bin/chromium
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install lab test lint bench labextension ui-test clean

$(BIN)/jlpm:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip $(QUIET_PIP)
	$(PIP) install -q hatchling hatch-jupyter-builder editables "jupyterlab>=4.6.4,<5" $(QUIET_PIP)
	test -x $(BIN)/jlpm

node_modules/.yarn-state.yml: package.json yarn.lock .yarnrc.yml | $(BIN)/jlpm
	$(JLPM) install
	touch $@

# the prebuilt extension, copied into the venv so a rebuild shows up without reinstalling
$(LABEXT): node_modules/.yarn-state.yml $(LABEXT_SRC)
	$(JLPM) build:prod
	rm -rf $(LABEXT_SHARE) && mkdir -p $(dir $(LABEXT_SHARE))
	cp -R jupyter_dlbench/_labextension $(LABEXT_SHARE) && cp install.json $(LABEXT_SHARE)/
	touch $@

labextension: $(LABEXT)

$(STAMP): pyproject.toml $(LABEXT)
	# the extension is built above; the build hook only checks that it is there
	HATCH_JUPYTER_BUILDER_SKIP_NPM=1 $(PIP) install -q --no-build-isolation -e ".[torch,lab,test]" $(QUIET_PIP)
	$(BIN)/python -c "import jupyter_dlbench, jupyter_dlbench_server, torch, papermill, duckdb, ray"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	$(BIN)/jupyter labextension list 2>&1 | grep -q "jupyter-dlbench.*enabled"
	touch $@

install: $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(JLPM) prettier:check
	$(JLPM) eslint:check

# chromium first: the report-rendering tests in pytest need it too, not only the UI tests
test: install lint | $(CHROMIUM)
	$(BIN)/python -m pytest -q -ra --durations=15
	$(MAKE) ui-test

# --- UI tests: Galata (Playwright) driving Debian's Chromium, never Playwright's download ---
UI_JLPM := PATH="$(abspath $(BIN)):$$PATH" PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(abspath $(BIN))/jlpm
UI_STAMP := ui-tests/node_modules/.yarn-state.yml

$(CHROMIUM):
	apt-get update -qq && apt-get install -y -qq chromium >/dev/null

$(UI_STAMP): ui-tests/package.json ui-tests/yarn.lock | $(BIN)/jlpm
	cd ui-tests && $(UI_JLPM) install
	touch $@

# the server (ui-tests/start_server.py) runs on a scratch copy of examples/ and workspace
ui-test: install labextension $(UI_STAMP) | $(CHROMIUM)
	cd ui-tests && CI=1 CHROMIUM_PATH=$(CHROMIUM) $(UI_JLPM) playwright test

lab: install
	DLBENCH_HOME=$(CURDIR)/examples/.dlbench $(BIN)/jupyter lab --notebook-dir=examples \
		$(if $(filter 0,$(shell id -u)),--allow-root,)

bench: install
	$(BIN)/python benchmarks/run.py $(if $(QUICK),--quick,)

clean:
	rm -rf $(VENV) node_modules lib tsconfig.tsbuildinfo jupyter_dlbench/_labextension ui-tests/node_modules
