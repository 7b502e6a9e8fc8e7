# Pingyi: `make run` to try it, `make test` to check it.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every dependency, dev tools and build backend included, pinned with hashes (`make lock`).
LOCK := requirements/dev.lock
HOST ?= 127.0.0.1
PORT ?= 8000
# Where slips, QR codes and the demo's links point (kept if set in the environment).
PINGYI_PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)
DEMO_CODES := var/demo-codes.csv

.PHONY: install lock audit run test lint format i18n bench clean

install: $(STAMP)

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Re-pin after changing pyproject.toml's dependencies: newest releases within its bounds, the
# application's own (the Docker image's) at the same versions as the development set.
PIN := $(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe \
	--all-build-deps --no-emit-index-url --no-emit-find-links
lock: install
	$(PIN) --extra dev --output-file $(LOCK) pyproject.toml
	$(PIN) --constraint $(LOCK) --output-file requirements/app.lock pyproject.toml

# Known vulnerabilities in the pinned dependencies (needs PyPI's vulnerability service).
audit: install
	$(BIN)/pip-audit --disable-pip --require-hashes -r $(LOCK)

# The demo's printed links and the server's slips and QR codes both point at HOST:PORT.
run: install
	$(BIN)/pingyi db upgrade
	PINGYI_PUBLIC_BASE_URL=$(PINGYI_PUBLIC_BASE_URL) $(BIN)/pingyi demo --codes-out $(DEMO_CODES)
	PINGYI_PUBLIC_BASE_URL=$(PINGYI_PUBLIC_BASE_URL) $(BIN)/pingyi serve --host $(HOST) --port $(PORT)

# The PostgreSQL restart test runs last, in a pytest process of its own: nothing else may be
# using the server while it restarts.
test: install
	$(BIN)/pytest -m "not postgres_restart"
	$(BIN)/pytest tests/faults -m postgres_restart

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Every benchmark under bench/, each printing its figures and the machine (docs/performance.md).
# PostgreSQL benchmarks use PINGYI_TEST_POSTGRES_URL's server and make their own databases.
bench: install
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/submissions.py
	$(BIN)/python bench/tally.py
	$(BIN)/python bench/signing.py
	$(BIN)/python bench/codes.py
	$(BIN)/python bench/slips.py
	$(BIN)/python bench/results.py --sqlite
	$(BIN)/python bench/exports.py --repeat 1

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Re-extract messages and merge them into the catalogs; translate the new entries in the .po.
i18n: install
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k gettext -k ngettext:1,2 --no-location \
		--sort-output -o app/locales/messages.pot .
	$(BIN)/pybabel update -i app/locales/messages.pot -d app/locales -D messages \
		--no-fuzzy-matching --ignore-obsolete

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
