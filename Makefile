# The two commands a newcomer needs: `make demo` and `make test`. `make bench` measures
# (a few minutes; `make bench N=1000000` for the large run) and is not part of `make test`.
# Both create .venv on first use and install both distributions with their dev extras into it:
# klaviyo-sandbox (the local Klaviyo, in klaviyo-sandbox/) first, editable, since it is on no
# package index and klaviyo-sync's dev extra names it; then klaviyo-sync, editable.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SANDBOX := klaviyo-sandbox
# Run from inside $(SANDBOX)/, where its own pytest and mypy settings apply.
SANDBOX_BIN := $(abspath $(BIN))

.PHONY: demo test lint typecheck unit suite suite-sandbox suite-sync sdk bench clean

$(STAMP): pyproject.toml $(SANDBOX)/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("klaviyo-sync needs Python >= 3.11, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e './$(SANDBOX)[dev]'
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Klaviyo's official SDK for the sandbox's tests, each version in its own folder (two versions
# cannot share one environment); the tests run it in a subprocess with that folder on PYTHONPATH
# (they look in the sdk/ folder of the environment running them, or $KLAVIYO_SDK_DIR).
SDK_VERSIONS := 24.0.0 25.0.0
SDK_STAMPS := $(foreach v,$(SDK_VERSIONS),$(VENV)/sdk/klaviyo-api-$(v)/.installed)

$(VENV)/sdk/klaviyo-api-%/.installed: | $(STAMP)
	rm -rf $(VENV)/sdk/klaviyo-api-$*
	$(BIN)/python -m pip install --quiet --target $(VENV)/sdk/klaviyo-api-$* klaviyo-api==$*
	touch $@

sdk: $(SDK_STAMPS)

demo: $(STAMP)
	$(BIN)/klaviyo-sync demo

# ruff reads klaviyo-sandbox/pyproject.toml for the files under it: both are covered.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy
	cd $(SANDBOX) && $(SANDBOX_BIN)/mypy

# Each distribution's whole suite with its own settings: klaviyo-sandbox's first (it stands
# alone), then klaviyo-sync's. PYTEST_ARGS and SANDBOX_PYTEST_ARGS pass options or tests to each.
suite: suite-sandbox suite-sync

suite-sandbox: $(STAMP) $(SDK_STAMPS)
	cd $(SANDBOX) && $(SANDBOX_BIN)/pytest $(SANDBOX_PYTEST_ARGS)

suite-sync: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

# The fast tier, for while you work: klaviyo-sync's tests but the slow, PostgreSQL and browser
# ones (README, "Development"), one process per core (pytest-xdist): each of these tests has a
# store of its own under its tmp_path and servers on ports the system picks. PYTEST_ARGS=-n0
# runs them in one process.
unit: $(STAMP)
	$(BIN)/pytest -m "not slow and not postgres and not browser" -n auto $(PYTEST_ARGS)

test: lint typecheck suite

N ?= 20000
PER_RECORD_N ?= 1000
bench: $(STAMP)
	$(BIN)/python -m bench -n $(N) --per-record-n $(PER_RECORD_N)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
	cd $(SANDBOX) && rm -rf .mypy_cache .pytest_cache .ruff_cache .hypothesis
