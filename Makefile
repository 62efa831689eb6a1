# Hiremail: `make run` starts everything locally, `make test` runs the whole suite.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: run test test-e2e install translations lint format clean bench requirements

# One environment for running, testing and linting: the pinned runtime and dev packages.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed translations

translations: $(VENV)/.installed
	$(VENV)/bin/pybabel compile --statistics -d webapp/translations

run: install
	$(PY) -m webapp.devserver

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

test-e2e: install
	$(PY) -m pytest -m e2e $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Re-pin after editing requirements*.in; pip-tools lives in a throwaway venv, not in $(VENV).
# Pins already in the .txt files are kept unless an .in file asks otherwise (--upgrade-package).
PIPTOOLS_VENV ?= /tmp/hiremail-piptools
PIP_COMPILE := $(PIPTOOLS_VENV)/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links
requirements:
	test -x $(PIPTOOLS_VENV)/bin/pip-compile || ($(PYTHON) -m venv $(PIPTOOLS_VENV) && $(PIPTOOLS_VENV)/bin/pip install --quiet pip-tools==7.7.0)
	$(PIP_COMPILE) requirements.in -o requirements.txt
	$(PIP_COMPILE) requirements-dev.in -o requirements-dev.txt

clean:
	rm -rf $(VENV) instance test-artifacts .pytest_cache
