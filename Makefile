# Two commands on a fresh machine: `make run` (local service) and `make test` (whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= local,test,browser

.PHONY: install run test test-fast lint services browser front theme-check bench test-faults test-e2e-repeat clean

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

# The whole suite, the fault suite included (about 8 minutes on 2 cores).
test: install services lint browser front node_modules/.installed
	BACKORDER_FAULTS=1 $(BIN)/pytest -q

test-fast: install node_modules/.installed
	$(BIN)/pytest -q -m "not slow and not browser" -x

# Only the real-process fault suite: outages, crashes, vendor failures (about 4 minutes).
test-faults: install services
	BACKORDER_FAULTS=1 $(BIN)/pytest -q tests/faults -m slow

# The end-to-end fault test N times in a row (CI runs it once, in `make test`): a test that
# fails now and then is a bug to find. Every run's output is kept in test-artifacts/repeat/;
# LOCK=/tmp/fullsuite.lock waits for that lock around each run on a shared machine.
N ?= 20
LOCK ?=
test-e2e-repeat: install services
	@mkdir -p test-artifacts/repeat; passed=0; \
	for i in $$(seq 1 $(N)); do \
	  log=test-artifacts/repeat/run-$$i.log; \
	  if $(if $(LOCK),flock $(LOCK)) env BACKORDER_FAULTS=1 $(BIN)/pytest -q \
	      tests/faults/test_end_to_end.py > $$log 2>&1; then \
	    passed=$$((passed + 1)); echo "run $$i: passed ($$(tail -1 $$log))"; \
	  else echo "run $$i: FAILED, see $$log"; fi; \
	done; echo "end-to-end fault test: $$passed of $(N) runs passed"; [ $$passed -eq $(N) ]

bench: install services
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) instance .hypothesis test-artifacts node_modules
