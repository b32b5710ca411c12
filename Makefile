# One command each for a fresh machine with Python 3.11+: `make demo`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench migration messages manifest clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	OPSBOT_DATABASE_URL=$${OPSBOT_DATABASE_URL:-sqlite:///demo.db} $(BIN)/opsbot demo --dir demo-data

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -q -n 2

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(ARGS)

migration: $(STAMP)
	$(BIN)/python -m bot.migrations.regenerate
	$(BIN)/ruff format bot/migrations/versions/0001_initial.py
	$(BIN)/ruff check --fix --quiet bot/migrations/versions/0001_initial.py

messages: $(STAMP)
	$(BIN)/python -m templates.catalog

manifest: $(STAMP)
	$(BIN)/python -m handlers.manifest

clean:
	rm -rf $(VENV) demo-data demo.db* .pytest_cache .ruff_cache
