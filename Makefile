# Two entry points, used by the README Quickstart and by .ci/run.
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: up test

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

up: $(STAMP)
	$(VENV)/bin/leadflow up

test: $(STAMP)
	$(VENV)/bin/python -m pytest
