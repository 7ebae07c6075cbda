# Two commands on a fresh machine (README): `make demo` and `make test`.
# Each sets up the virtualenv it needs from pyproject.toml, then runs.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint lint-imports bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Core install: enough to run every specialist tool-only (no CrewAI, no ChromaDB).
$(VENV)/.core: $(BIN)/python pyproject.toml setup.py
	$(BIN)/pip install --quiet -e .
	touch $@

# Everything: LLM agents, knowledge base, MCP, and the test tools.
$(VENV)/.dev: $(BIN)/python pyproject.toml setup.py
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.core

demo: $(VENV)/.core
	$(BIN)/llmgenie run "audit and document the shop service" --target examples/shop

test: $(VENV)/.dev lint-imports
	$(BIN)/ruff check .
	$(BIN)/pytest

# The layer contracts in pyproject.toml (decision 0020). import-linter reads a package from one
# folder, so the four layer folders are copied under one `llmgenie/` first.
lint-imports: $(VENV)/.dev
	@tmp=$$(mktemp -d) && mkdir $$tmp/llmgenie && cp llmgenie/*.py $$tmp/llmgenie/ && \
	  cp -r core agents flows interfaces $$tmp/llmgenie/ && \
	  (cd $$tmp && PYTHONPATH=$$tmp $(CURDIR)/$(BIN)/lint-imports $(CURDIR)/pyproject.toml > out.txt); \
	  status=$$?; sed -n '/^Contracts/,$$p' $$tmp/out.txt; rm -rf $$tmp; exit $$status

bench: $(VENV)/.dev
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
