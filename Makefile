# Two set-up commands for a fresh machine: `make demo` (the main job on built-in data) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo lint install clean

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
	$(BIN)/python -m pytest -q tests

lint: $(STAMP)
	$(BIN)/ruff check gazeprep gradseg pipelines tests

demo: $(STAMP)
	$(BIN)/python pipelines/demo.py

clean:
	rm -rf data/gaze data/maps.zarr data/demo data/sim runs
