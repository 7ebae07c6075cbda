# Two commands on a fresh machine (README): `make demo` and `make test`.
# Each sets up the virtualenv it needs from pyproject.toml, then runs.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

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

test: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/pytest

bench: $(VENV)/.dev
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
