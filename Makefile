# Two commands on a fresh machine: `make run` (local service) and `make test` (whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= local,test,browser

.PHONY: install run test test-fast lint services browser front theme-check bench test-faults clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[$(EXTRAS)]'
	touch $@

run: install
	$(BIN)/backorder run-local

services:
	bash .ci/ensure-services

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# Headless Chromium for the merchant-page tests: Debian's chromium and chromium-driver,
# driven by Playwright (never Playwright's own browser download).
browser:
	command -v chromium >/dev/null || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && $$SUDO apt-get install -y chromium chromium-driver; }

# nginx, the front of the production set-up (deploy/nginx.conf), for the slow-client tests.
# Debian's nginx-light; the tests run their own nginx on a free port with its own files.
front:
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && $$SUDO apt-get install -y nginx-light; }

# Shopify's theme linter for the storefront block in extensions/ (@shopify/theme-check-node,
# pinned by package-lock.json; it runs offline). Node and npm from Debian when missing.
node_modules/.installed: package.json package-lock.json
	command -v npm >/dev/null || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && $$SUDO apt-get install -y nodejs npm; }
	npm ci --no-audit --no-fund
	touch $@

theme-check: node_modules/.installed
	npm run --silent theme-check

# The whole suite, the fault suite included (about 6 minutes on 2 cores).
test: install services lint browser front node_modules/.installed
	BACKORDER_FAULTS=1 $(BIN)/pytest -q

test-fast: install node_modules/.installed
	$(BIN)/pytest -q -m "not slow and not browser" -x

# Only the real-process fault suite: outages, crashes, vendor failures (about 4 minutes).
test-faults: install services
	BACKORDER_FAULTS=1 $(BIN)/pytest -q tests/faults -m slow

bench: install services
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) instance .hypothesis test-artifacts node_modules
