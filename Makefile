# One target per chore. Everything runs from the project's own virtual environment.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install proto proto-check run test lint format bench clean image settings-doc

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Regenerates sitoo_bloomreach/v1 from protos/ with the pinned grpcio-tools.
proto: $(STAMP)
	$(PY) scripts/gen_protos.py

proto-check: $(STAMP)
	$(PY) scripts/gen_protos.py --check

# Rewrites README.md's settings table from runtime/settings.py (the fields' descriptions).
settings-doc: $(STAMP)
	$(PY) scripts/gen_settings_table.py

run: $(STAMP)
	$(VENV)/bin/sitoo-bloomreach run

# The whole suite: unit, SQLite and PostgreSQL (127.0.0.1:5432), real processes, emulators.
test: $(STAMP)
	$(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The container image (Containerfile); see docs/deploy.md. BASE_IMAGE=... to build on the
# public Python image instead of a local Debian one, WITH_SANDBOX=true to keep the emulators.
image:
	scripts/build_image.sh $(IMAGE)

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
