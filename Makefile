# The two newcomer commands: `make demo` and `make test` (see README.md).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

CHROMIUM := /usr/bin/chromium

.PHONY: demo test setup setup-dev setup-browser setup-deploy-tools lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

setup: $(BIN)/python node_modules/.package-lock.json
	$(BIN)/pip install --quiet -e .

setup-dev: $(BIN)/python node_modules/.package-lock.json
	$(BIN)/pip install --quiet -e ".[dev]"

demo: setup
	$(BIN)/relay demo $(DEMO_ARGS)

lint: setup-dev
	$(BIN)/ruff check relay tests bench
	$(BIN)/ruff format --check relay tests bench
	$(BIN)/mypy relay tests bench

# The payment page's browser tests drive Debian's chromium with Playwright (which must never
# download a browser of its own): install the package when it is missing.
$(CHROMIUM):
	@echo "installing Debian's chromium for the payment page's browser tests"
	@if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; else SUDO=; fi; \
	$$SUDO apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium

setup-browser: $(CHROMIUM)

# tests/test_deploy.py checks deploy/ with each file's own tool: Debian's caddy, nginx, openssl
# (systemd-analyze comes with systemd).
DEPLOY_TOOLS := /usr/bin/caddy /usr/sbin/nginx /usr/bin/openssl
$(DEPLOY_TOOLS):
	@echo "installing Debian's caddy, nginx and openssl for the deploy/ checks"
	@if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; else SUDO=; fi; \
	$$SUDO apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq caddy nginx openssl

setup-deploy-tools: $(DEPLOY_TOOLS)

test: lint setup-browser setup-deploy-tools
	$(BIN)/pytest $(PYTEST_ARGS)
