# arinsights — run `make help` for the list of targets.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
AS_OF  ?= 2026-06-30
PERIOD ?= 2026-06
SAMPLE := data/sample

.DEFAULT_GOAL := help
.PHONY: help venv test report lab sample bench clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP) ## create .venv and install arinsights with its test tools

test: $(STAMP) ## run the test suite
	$(PY) -m pytest -q

report: $(STAMP) ## render the reports for the bundled sample into reports/
	$(PY) -m arinsights report --ledger $(SAMPLE)/ledger.csv --as-of $(AS_OF) --period $(PERIOD) --out reports

lab: $(STAMP) ## open JupyterLab on the notebooks
	$(PY) -m pip install --quiet -e '.[dev,lab]'
	$(VENV)/bin/jupyter lab notebooks

sample: $(STAMP) ## regenerate the committed sample under data/sample
	$(PY) -m arinsights sample --customers 300 --years 2 --seed 7 --layout transactions --out $(SAMPLE)

# lifelines (the per-customer baseline) pins pandas<3, so it gets a venv of its own
.venv-bench/.installed: pyproject.toml
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install --quiet --upgrade pip
	.venv-bench/bin/python -m pip install --quiet -e '.[bench]'
	@touch $@

bench: $(STAMP) .venv-bench/.installed ## run the speed and scale benchmarks (100k and 1M invoices)
	$(PY) benchmarks/run.py

clean: ## remove the virtual environment and rendered reports
	rm -rf $(VENV) reports
