# One entry point for every check; CI runs `make check` (see .ci/run and the README).
# Run it in the environment where `pip install -e '.[test]'` installed the tools.

PYTHON ?= python3
# Python code to lint: only the directories that exist.
PY_DIRS := $(wildcard vendorwall tests plugins benchmarks scripts)
PYTEST_ARGS ?=
# Run every check even when one fails (a lint error must not hide the test results); make still
# exits non-zero if any failed.
MAKEFLAGS += --keep-going

.PHONY: help check versions lint test ruff mypy yamllint ansible-lint

help:
	@echo "make check         versions, lint, then the tests (what CI runs)"
	@echo "make lint          ruff, mypy, yamllint, ansible-lint --offline"
	@echo "make test          pytest (PYTEST_ARGS='-k name' to select)"

check: versions lint test

# The tool versions a check ran with (first lines of a CI log).
versions:
	@$(PYTHON) --version
	@$(PYTHON) -m pip list 2>/dev/null | grep -iE '^(vendorwall|ansible-core|ansible-lint|ruff|mypy|yamllint|pytest|hypothesis|netmiko|jinja2|jsonschema) '

lint: ruff mypy yamllint ansible-lint

ruff:
	$(PYTHON) -m ruff check $(PY_DIRS)

mypy:
	$(PYTHON) -m mypy

yamllint:
	$(PYTHON) -m yamllint --strict .

# --offline: Ansible Galaxy is not reachable and no collection is needed (requirements.yml).
ansible-lint:
	ansible-lint --offline

# pytest exits 5 when it collects no test: make fails on it, as on any non-zero exit.
test:
	$(PYTHON) -m pytest $(PYTEST_ARGS)
