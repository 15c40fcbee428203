# Two entry points, used by the README Quickstart and by .ci/run.
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: up test tools

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

# The tests run a real Prometheus and promtool (Debian's prometheus package) against the dashboards and alerts.
tools:
	@command -v prometheus >/dev/null && command -v promtool >/dev/null || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; }

up: $(STAMP)
	$(VENV)/bin/leadflow up

test: $(STAMP) tools
	$(VENV)/bin/python -m pytest
