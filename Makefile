# Two commands matter: `make run` (set up, load the sample, start the app) and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
export CRM_WORKSPACE ?= workspace

.PHONY: run test setup setup-dev chromium lint format bench sample clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Reinstall only when a requirements file or the project metadata changed.
$(VENV)/.stamp-runtime: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

$(VENV)/.stamp-dev: requirements-dev.txt $(VENV)/.stamp-runtime
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

setup: $(VENV)/.stamp-runtime

setup-dev: $(VENV)/.stamp-dev

# Debian's chromium (and CJK fonts, so Chinese screenshots are readable) for the browser tests,
# installed only when missing (never `playwright install`).
chromium:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "noto.*cjk"; then \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium fonts-noto-cjk; \
	fi

run: setup
	$(BIN)/crm init
	$(BIN)/streamlit run app.py --server.port $(PORT)

test: setup-dev chromium
	$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

$(VENV)/.stamp-bench: requirements-bench.txt $(VENV)/.stamp-dev
	$(BIN)/python -m pip install -q -r requirements-bench.txt
	touch $@

bench: $(VENV)/.stamp-bench
	$(BIN)/python bench/run.py
	$(BIN)/python bench/readme.py

sample: setup
	$(BIN)/crm sample

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
