# The two newcomer commands: `make demo` and `make test` (see README.md).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

CHROMIUM := /usr/bin/chromium
PHPUNIT := /usr/bin/phpunit
DIST ?= dist

.PHONY: demo test setup setup-dev setup-system lint woocommerce-plugin translations admin-translations

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

# Debian packages the tests drive, installed when one of their programs is missing: chromium for
# the pages' browser tests (Playwright must never download a browser of its own), php-cli and
# phpunit for the WooCommerce plugin (tests/test_woocommerce_plugin.py), caddy, nginx and openssl
# for the files in deploy/ (tests/test_deploy.py; systemd-analyze comes with systemd).
SYSTEM_TOOLS := $(CHROMIUM) $(PHPUNIT) /usr/bin/caddy /usr/sbin/nginx /usr/bin/openssl
SYSTEM_PACKAGES := chromium php-cli php-mbstring php-xml phpunit caddy nginx openssl

setup-system:
	@for tool in $(SYSTEM_TOOLS); do [ -x "$$tool" ] || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian's $(SYSTEM_PACKAGES) (missing:$$missing)"; \
		if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; else SUDO=; fi; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(SYSTEM_PACKAGES); \
	fi

# The plugin a merchant uploads (Plugins › Add New › Upload): one zip whose top folder is relay-payments/.
woocommerce-plugin:
	@mkdir -p $(DIST)
	@rm -f $(DIST)/relay-payments.zip
	cd integrations/woocommerce && python3 -m zipfile -c $(abspath $(DIST))/relay-payments.zip relay-payments
	@echo "built $(DIST)/relay-payments.zip"

test: lint setup-system
	$(BIN)/pytest $(PYTEST_ARGS)

# The pages' gettext catalogs (relay/web/translations/<locale>/LC_MESSAGES): extract the texts
# from templates and Python (babel.cfg: the customer pages, domain `messages`; babel-admin.cfg,
# when present: the dashboard, domain `admin`), update each language's .po (a new language starts
# empty: translate it), and compile the .mo files, which are committed beside the .po files so a
# clone or a wheel needs no build step (tests/test_languages.py checks both are complete and match).
TRANSLATIONS := relay/web/translations
LANGUAGES := de fr es pt_BR zh_Hans
ADMIN_LANGUAGES := de

define catalog
	mkdir -p build
	$(BIN)/pybabel extract -F $(2) -o build/$(1).pot --no-wrap --add-location=file --sort-output \
		--project=relay --copyright-holder="relay contributors" .
	for lang in $(3); do \
		if [ -f $(TRANSLATIONS)/$$lang/LC_MESSAGES/$(1).po ]; then \
			$(BIN)/pybabel -q update -D $(1) -i build/$(1).pot -d $(TRANSLATIONS) -l $$lang \
				--no-wrap --no-fuzzy-matching --ignore-obsolete; \
		else \
			$(BIN)/pybabel init -D $(1) -i build/$(1).pot -d $(TRANSLATIONS) -l $$lang --no-wrap; \
		fi; \
	done
	$(BIN)/pybabel compile -D $(1) -d $(TRANSLATIONS) --statistics
endef

translations: setup-dev
	$(call catalog,messages,babel.cfg,$(LANGUAGES))
	if [ -f babel-admin.cfg ]; then $(MAKE) --no-print-directory admin-translations; fi

admin-translations:
	$(call catalog,admin,babel-admin.cfg,$(ADMIN_LANGUAGES))
