# The two commands of the quick start:
#   make run   installs everything, builds the world and starts the whole product on embedded defaults
#   make test  installs everything and runs the whole test suite
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
APT_PACKAGES := redis-server chromium
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: run test install system-deps venv lint world clean

install: system-deps venv

# Debian packages the product and its tests use: a real Redis server and a real browser.
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# Python packages, pinned by requirements.lock, into .venv at the repository root.
venv: $(VENV)/.installed
$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.lock
	$(PIP) install -q --no-deps -e .
	touch $@

world: install
	$(PY) -m warehouse generate --if-missing

# The main job: build what is missing (world, models, backfilled decisions, monitoring, catalog index, fairness
# report), then start every service (decision API + bureau simulator + decision-log loader, copilot API, analyst UI).
# Each step is idempotent, so a second `make run` only starts the services.
run: install
	$(PY) -m warehouse generate --if-missing
	$(PY) -m decision_service train --if-missing
	$(PY) -m decision_service backfill --if-missing
	$(PY) -m warehouse monitor --backfill --publish
	$(PY) -m schema_catalog index --validator copilot.guard:validate_and_run
	$(PY) -m decision_service fairness
	@echo "starting services: decision API http://127.0.0.1:8700/docs  copilot API http://127.0.0.1:8010/docs  analyst app http://127.0.0.1:8501"
	$(VENV)/bin/honcho -f Procfile start

test: install
	$(PY) -m ruff check .
	$(PY) -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; rc=0; fi; exit $$rc

lint: install
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

clean:
	rm -rf data artifacts
