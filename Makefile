# gogooku3: `make setup` then `make run`. Everything installs from PyPI; nothing is downloaded at run time.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/pip

.PHONY: setup run test lint format seeds docs bench clean

setup: $(VENV)/.installed ## create .venv and install everything (pinned by requirements.lock)

$(VENV)/.installed: pyproject.toml requirements.lock adapters/dbt-chdb/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c requirements.lock -e '.[dev]' ./adapters/dbt-chdb
	# Only for its Compose Specification JSON schema (tests/deploy); its old dependency pins are not wanted.
	$(PIP) install --quiet --no-deps docker-compose==1.29.2
	touch $@

run: setup ## the demo: sample market -> ingest -> dbt build -> Feast -> MLflow -> report
	$(BIN)/gogooku demo

test: setup ## the whole test suite (what CI runs)
	$(BIN)/pytest -q

lint: setup ## ruff and sqlfluff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint dbt_project/models dbt_project/macros dbt_project/tests

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

seeds: setup ## regenerate the holiday seed from jpholiday (2008 through the end of next year)
	$(BIN)/python -m gogooku.calendar_seed

docs: setup ## dbt docs generate; then `cd dbt_project && dbt docs serve`
	cd dbt_project && ../$(BIN)/dbt docs generate

bench: setup ## full-market benchmark (see README)
	$(BIN)/python -m bench.run

clean:
	rm -rf .gogooku dbt_project/target dbt_project/logs
