# One entry point for every check; CI runs `make check` (see .ci/run and the README).
# Run it in the environment where `pip install -e '.[test]'` installed the tools.

PYTHON ?= python3
# Python code to lint: only the directories that exist.
PY_DIRS := $(wildcard vendorwall tests library filter_plugins plugins/action benchmarks scripts)
PYTEST_ARGS ?=
# Run every check even when one fails (a lint error must not hide the test results); make still
# exits non-zero if any failed.
MAKEFLAGS += --keep-going

.PHONY: help check deps versions lint test ruff mypy yamllint ansible-lint shellcheck package collection ee

help:
	@echo "make check         deps, versions, lint, the tests, then the packages (what CI runs)"
	@echo "make deps          what pip cannot install from pyproject.toml: the lab's switch simulator"
	@echo "make package       the collection tarball (installed offline to check it) and the EE build context"
	@echo "make lint          ruff, mypy, yamllint, ansible-lint --offline, shellcheck"
	@echo "make test          pytest (PYTEST_ARGS='-k name' to select)"

check: deps versions lint test package

# fake-switches 1.5.0 (the lab's IOS and Junos switches) pins dependencies that do not build on Python 3.11:
# installed without them (the ones it really uses are in the test extra), once. Then the vendors' own
# argument specs (fortinet.fortios... from the ansible PyPI wheel) into build/vendor-schemas.
deps:
	@$(PYTHON) -m pip show -q fake-switches >/dev/null 2>&1 || $(PYTHON) -m pip install -q --no-deps fake-switches==1.5.0
	@test -d build/vendor-schemas || $(PYTHON) scripts/vendor_schemas.py

# The thin Ansible collection (galaxy.yml: this repository's plugins/, roles/, playbooks/), built, then
# installed offline from the tarball and its modules documented, as a hospital installs it.
COLLECTION_DIR := build/collection
collection:
	rm -rf $(COLLECTION_DIR) build/collection-install
	ansible-galaxy collection build --output-path $(COLLECTION_DIR) .
	ansible-galaxy collection install --offline -p build/collection-install $(COLLECTION_DIR)/vendorwall-vendorwall-*.tar.gz
	ANSIBLE_COLLECTIONS_PATH=build/collection-install ansible-doc vendorwall.vendorwall.vendorwall_deploy >/dev/null

# The execution environment's build context (ansible-builder v3); building the image needs podman or docker.
ee: collection
	rm -rf build/dist build/ee
	$(PYTHON) -m pip wheel -q --no-deps -w build/dist .
	ansible-builder create -f execution-environment.yml -c build/ee
	grep -q "pip install --no-cache-dir /tmp/vendorwall/vendorwall-" build/ee/Containerfile build/ee/Dockerfile 2>/dev/null

package: collection ee

# The tool versions a check ran with (first lines of a CI log).
versions:
	@$(PYTHON) --version
	@$(PYTHON) -m pip list 2>/dev/null | grep -iE '^(vendorwall|ansible-core|ansible-lint|ruff|mypy|yamllint|pytest|hypothesis|netmiko|jinja2|jsonschema) '

lint: ruff mypy yamllint ansible-lint shellcheck

ruff:
	$(PYTHON) -m ruff check $(PY_DIRS)

mypy:
	$(PYTHON) -m mypy

yamllint:
	$(PYTHON) -m yamllint --strict .

# --offline: Ansible Galaxy is not reachable and no collection is needed (requirements.yml).
ansible-lint:
	ansible-lint --offline

# Every shell script shipped or generated (scripts/shellcheck.py writes the generated ones to build/shellcheck/).
shellcheck:
	$(PYTHON) scripts/shellcheck.py

# pytest exits 5 when it collects no test: make fails on it, as on any non-zero exit.
test:
	$(PYTHON) -m pytest $(PYTEST_ARGS)
