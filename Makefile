# Two entry points: `make demo` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pywb replays bundles in the tests; it pins an older cryptography, so it lives in a venv of its own.
PYWB_VENV := .venv-pywb
PYWB_STAMP := $(PYWB_VENV)/.installed
SOURCES := cchc cli crawler probes evidence indicators reports web sim scheduler.py
DEBIAN_PACKAGES := chromium fonts-noto-core fonts-liberation2 poppler-utils openssl

.PHONY: demo test lint typecheck pytest compiled system-deps clean

# `make demo DEMO_ARGS="--national-api v1"` reads every period of the national portal from api/v1/reporting.
demo: $(STAMP) system-deps compiled
	$(BIN)/cchc demo $(DEMO_ARGS)

# The two virtual envs and Debian's packages install side by side; then ruff; then mypy beside pytest (mypy held
# the machine for 15 s on one core of two). Its report is printed after pytest's, and either failing fails.
test:
	@$(MAKE) --no-print-directory -j 3 $(STAMP) $(PYWB_STAMP) system-deps
	@$(MAKE) --no-print-directory lint compiled
	@echo "$(BIN)/mypy . (beside pytest, its report after it)"; echo "$(PYTEST)"; \
	$(BIN)/mypy . > $(VENV)/mypy.log 2>&1 & typing=$$!; \
	$(PYTEST); tests=$$?; \
	wait $$typing; typed=$$?; echo "mypy:"; cat $(VENV)/mypy.log; \
	[ $$tests = 0 ] && [ $$typed = 0 ]

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy .

# Three workers on two cores (`make test PYTEST_WORKERS=0` runs in one process): the daemon's tests spend most of
# their 3–4 minutes waiting for the clock (fire times, a lease to expire), and with one worker a core, their core
# sat idle meanwhile (2 workers: 486 s; 3: 417 s, docs/benchmarks.md). loadscope keeps a module's tests on
# one worker, so a module fixture (a crawl, a bundle, a served app) is built once. (loadgroup would spread the
# rest, but pytest 9.2 ignores the xdist_group marks of pytest-xdist 3.8: it renames no node id any more.)
PYTEST_WORKERS ?= 3
PYTEST = $(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadscope --durations=30
pytest: $(STAMP) $(PYWB_STAMP) system-deps compiled
	$(PYTEST)

# Where PYTHONDONTWRITEBYTECODE is set (as on our machines), no process keeps what it compiles, and each of the
# suite's cold `python -m cli` processes compiled the project's modules again: compiled once here instead (pip
# compiles the installed packages itself). A source changed since is compiled in each process, as before.
compiled: $(STAMP)
	$(BIN)/python -m compileall -q -j 0 $(SOURCES) tests

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed: found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(PYWB_STAMP):
	$(PYTHON) -m venv $(PYWB_VENV)
	$(PYWB_VENV)/bin/pip install --quiet 'pywb==2.10.0'
	touch $@

# Debian's Chromium and fonts; never `playwright install` (it downloads a browser from a CDN).
system-deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || printf '%s ' $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages; run: sudo apt-get install -y $$missing"; exit 1; \
	  fi; \
	fi

clean:
	rm -rf $(VENV) $(PYWB_VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info
	find $(SOURCES) tests bench -name __pycache__ -prune -exec rm -rf {} +
