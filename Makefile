# paylink: small targets that compose. `make test` is what CI runs.
# Every target installs what it needs on first use (the .installed stamps).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# First Python 3.13 found: pyenv's, then one on PATH, else python3.
PYENV_ROOT_DIR := $(shell pyenv root 2>/dev/null)
ifndef PYTHON
PYTHON := $(firstword $(wildcard $(PYENV_ROOT_DIR)/versions/3.13*/bin/python3.13) \
                      $(shell command -v python3.13 2>/dev/null) python3)
endif

VENV := .venv
TOOLS := .venv-tools
VENV_STAMP := $(VENV)/.installed
TOOLS_STAMP := $(TOOLS)/.installed
PY := $(VENV)/bin/python
SAM := $(TOOLS)/bin/sam
CFN_LINT := $(TOOLS)/bin/cfn-lint
LAYER_BUILD := .aws-sam/build/PaylinkLayer
# The bare artifact run (tests/artifact): the layer built for this machine's x86_64 and a venv
# holding only the boto3 the Lambda python3.13 runtime ships (AWS lists it per runtime and region
# under "Runtime-included SDK versions"; raise it when the runtime's moves).
BARE := .aws-sam/bare
LAMBDA_BOTO3 := 1.38.36
# Extra pytest arguments, e.g. PYTEST_ARGS="-n auto -x".
PYTEST_ARGS ?=

# SAM needs no account for validate/build, but reads a region; never send telemetry.
export SAM_CLI_TELEMETRY := 0
# The browser tests drive Debian's chromium (`make browser`); Playwright never downloads one.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
CHROMIUM := /usr/bin/chromium
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help venv tools browser lint format typecheck lint-template validate build bare-artifact deploy-check unit integration e2e \
        test run settle merchant bench bench-flows bench-click bench-coldstart clean

help:
	@echo "targets: venv tools lint format typecheck validate build deploy-check unit integration e2e test"
	@echo "         run settle DATE=YYYY-MM-DD merchant ARGS='...' bench bench-flows bench-click bench-coldstart clean"

# --- environments ---------------------------------------------------------------------------

venv: $(VENV_STAMP)

$(VENV_STAMP): requirements-dev.txt layers/paylink/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

# sam and cfn-lint live apart from .venv: aws-sam-cli pins its own boto3/pydantic ranges.
tools: $(TOOLS_STAMP)

$(TOOLS_STAMP): requirements-tools.txt
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --disable-pip-version-check -q -r requirements-tools.txt
	touch $@

# Debian's chromium for tests/e2e/test_browser.py, from apt when missing (root with apt-get only).
browser:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing chromium with apt-get"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	else \
	  echo "$(CHROMIUM) is missing: run 'sudo apt-get install chromium' for the browser tests" \
	       "(they skip without it, and fail under CI=true)" >&2; \
	fi

# --- code quality ----------------------------------------------------------------------------

lint: $(VENV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV_STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: $(VENV_STAMP)
	$(VENV)/bin/mypy

# --- template, build, layer ------------------------------------------------------------------

lint-template: $(TOOLS_STAMP)
	$(CFN_LINT) template.yaml
	$(SAM) validate --lint

# SAM's python workflow pip-installs aarch64 wheels without Docker; it wants python3.13 on PATH.
build: $(TOOLS_STAMP) $(VENV_STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(SAM) build --parallel

validate: lint-template build
	$(PY) scripts/check_layer_arch.py $(LAYER_BUILD)
	$(PY) scripts/check_deploy.py --layer $(LAYER_BUILD)

# The layer as `sam build` makes it, but for x86_64, and a bare Python 3.13 with only the runtime's
# boto3: tests/artifact runs every handler in it (rebuilt when the requirements change).
bare-artifact: $(BARE)/.built

# Rebuilt when the package changes too: a stale copy of it would test yesterday's code.
LAYER_SOURCES := $(shell find layers/paylink/paylink -type f -not -path '*/__pycache__/*')

$(BARE)/.built: layers/paylink/requirements.txt layers/paylink/Makefile Makefile $(LAYER_SOURCES)
	rm -rf $(BARE)
	$(MAKE) -C layers/paylink build-PaylinkLayer ARTIFACTS_DIR=$(CURDIR)/$(BARE)/layer \
	  PLATFORM=manylinux2014_x86_64 PYTHON=$(CURDIR)/$(PY)
	$(PYTHON) -m venv $(BARE)/venv
	$(BARE)/venv/bin/python -m pip install --disable-pip-version-check -q boto3==$(LAMBDA_BOTO3)
	touch $@

# What a deploy needs to hold: the template lints and validates, the layer builds for arm64 without
# the runtime's SDK, every handler runs from the built artifact, and no secret, sandbox payout or
# empty required setting reaches a deployed function (scripts/check_deploy.py).
deploy-check: validate bare-artifact
	$(VENV)/bin/pytest $(PYTEST_ARGS) tests/artifact tests/unit/test_check_deploy.py

# --- tests -----------------------------------------------------------------------------------

unit: $(VENV_STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS) tests/unit

# Exit 5 means "no tests collected": fine while a suite is still empty.
integration: $(VENV_STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS) tests/integration || [ $$? -eq 5 ]

e2e: $(VENV_STAMP) browser
	$(VENV)/bin/pytest $(PYTEST_ARGS) tests/e2e || [ $$? -eq 5 ]

test: deploy-check lint typecheck browser
	$(VENV)/bin/pytest $(PYTEST_ARGS) tests --ignore=tests/artifact --deselect tests/unit/test_check_deploy.py

# --- local run -------------------------------------------------------------------------------

run: $(VENV_STAMP)
	$(PY) -m local.run

settle:
	@[ -n "$(DATE)" ] || { echo "usage: make settle DATE=YYYY-MM-DD" >&2; exit 2; }
	curl -fsS -X POST -H 'Content-Type: application/json' \
	  http://127.0.0.1:$${PAYLINK_PORT:-3000}/_local/invoke/SettleFunction -d '{"date": "$(DATE)"}'
	@echo

merchant: $(VENV_STAMP)
	$(PY) -m local.admin create-merchant $(ARGS)

bench: $(VENV_STAMP)
	@for f in bench/*.py; do [ -e "$$f" ] || continue; echo "== $$f"; $(PY) "$$f"; done

# DynamoDB calls and AWS cost per flow; fails when a call-count limit of the issue is broken.
bench-flows: $(VENV_STAMP)
	$(PY) bench/flows.py --check

# The click path on the local runner beside a bare moto GetItem; fails beyond 3x.
bench-click: $(VENV_STAMP)
	$(PY) bench/click.py --check

# Each handler's import beside a bare `import boto3` (fails past 2.5x), and
# the click path's cold total (init + first GET /{code}) beside boto3 + client + GetItem: fails past 1.3x.
bench-coldstart: $(VENV_STAMP)
	$(PY) bench/coldstart.py --check

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . \( -path ./$(VENV) -o -path ./$(TOOLS) -o -path ./.git \) -prune -o \
	  -type d -name __pycache__ -exec rm -rf {} +
