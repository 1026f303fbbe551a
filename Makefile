# One task runner. `make demo` and `make test` are the README's two set-up commands.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DB ?= data/aggregator.db
PORT ?= 8501

.PHONY: install install-test demo dashboard test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first and pinned: an unpinned torch would pull several GB of CUDA wheels.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

# The demo's Carblog feed is broken on purpose, so its refresh reports "partial" and exits 1;
# any other failure (2 and up) stops here.
demo: install
	$(BIN)/aggregator --db $(DB) demo || [ $$? -eq 1 ]
	$(BIN)/aggregator --db $(DB) stories --limit 10
	$(BIN)/aggregator --db $(DB) dashboard --port $(PORT)

dashboard: install
	$(BIN)/aggregator --db $(DB) dashboard --port $(PORT)

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check aggregator tests bench dashboard
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) data/aggregator.db data/aggregator.db-* data/cache
