# The two newcomer commands: `make demo` and `make test` (see README.md).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

CHROMIUM := /usr/bin/chromium
PHPUNIT := /usr/bin/phpunit
DIST ?= dist

.PHONY: demo test setup setup-dev setup-browser setup-php lint woocommerce-plugin

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

setup: $(BIN)/python node_modules/.package-lock.json
	$(BIN)/pip install --quiet -e . -e ./devkit

setup-dev: $(BIN)/python node_modules/.package-lock.json
	$(BIN)/pip install --quiet -e ".[dev]" -e ./devkit

demo: setup
	$(BIN)/relay demo $(DEMO_ARGS)

lint: setup-dev
	$(BIN)/ruff check relay devkit tests bench
	$(BIN)/ruff format --check relay devkit tests bench
	$(BIN)/mypy relay devkit tests bench

# The payment page's browser tests drive Debian's chromium with Playwright (which must never
# download a browser of its own): install the package when it is missing.
$(CHROMIUM):
	@echo "installing Debian's chromium for the payment page's browser tests"
	@if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; else SUDO=; fi; \
	$$SUDO apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium

setup-browser: $(CHROMIUM)

# The WooCommerce plugin's tests (tests/test_woocommerce_plugin.py) run Debian's php-cli and
# phpunit: install them when missing, as chromium above.
$(PHPUNIT):
	@echo "installing Debian's php-cli and phpunit for the WooCommerce plugin's tests"
	@if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; else SUDO=; fi; \
	$$SUDO apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq php-cli php-mbstring php-xml phpunit

setup-php: $(PHPUNIT)

# The plugin a merchant uploads (Plugins › Add New › Upload): one zip whose top folder is relay-payments/.
woocommerce-plugin:
	@mkdir -p $(DIST)
	@rm -f $(DIST)/relay-payments.zip
	cd integrations/woocommerce && python3 -m zipfile -c $(abspath $(DIST))/relay-payments.zip relay-payments
	@echo "built $(DIST)/relay-payments.zip"

test: lint setup-browser setup-php
	$(BIN)/pytest $(PYTEST_ARGS)
