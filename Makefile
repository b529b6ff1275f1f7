# The two commands a newcomer needs: `make demo` and `make test`. `make bench` measures
# (a few minutes; `make bench N=1000000` for the large run) and is not part of `make test`.
# Both create .venv on first use and install the project with its dev extras into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit sdk bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("klaviyo-sync needs Python >= 3.11, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Klaviyo's official SDK for the sandbox's tests, each version in its own folder (two versions
# cannot share one environment); the tests run it in a subprocess with that folder on PYTHONPATH.
SDK_VERSIONS := 24.0.0 25.0.0
SDK_STAMPS := $(foreach v,$(SDK_VERSIONS),$(VENV)/sdk/klaviyo-api-$(v)/.installed)

$(VENV)/sdk/klaviyo-api-%/.installed: | $(STAMP)
	rm -rf $(VENV)/sdk/klaviyo-api-$*
	$(BIN)/python -m pip install --quiet --target $(VENV)/sdk/klaviyo-api-$* klaviyo-api==$*
	touch $@

sdk: $(SDK_STAMPS)

demo: $(STAMP)
	$(BIN)/klaviyo-sync demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) $(SDK_STAMPS)
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck unit

N ?= 20000
PER_RECORD_N ?= 1000
bench: $(STAMP)
	$(BIN)/python -m bench -n $(N) --per-record-n $(PER_RECORD_N)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
