# Two set-up commands for a fresh machine: `make demo` (the main job on built-in data) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo docs lint install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch first: a bare `torch` requirement would pull a multi-GB CUDA build. TORCH picks the build,
# e.g. make test TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" (README).
TORCH ?= torch==2.13.0
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check gazeprep gradseg pipelines tests
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict
	$(BIN)/python -m pytest -q --doctest-modules gazeprep gradseg tests

# The documentation site at http://127.0.0.1:8000 (sources in docs/, built from mkdocs.yml).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

lint: $(STAMP)
	$(BIN)/ruff check gazeprep gradseg pipelines tests

demo: $(STAMP)
	$(BIN)/python pipelines/demo.py
	@echo "The commands are in $(VENV)/bin: run 'source $(VENV)/bin/activate' to type 'gazeprep' and 'gradseg'."

clean:
	rm -rf data/gaze data/maps.zarr data/demo data/sim runs build/site
