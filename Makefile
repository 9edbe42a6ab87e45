# ghostguard.certs — the README's two commands: `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
ROOT := $(abspath .)
VENV ?= $(ROOT)/.venv
PY := $(VENV)/bin/python
BASEPY ?= python3
COLL := $(ROOT)/.build/collections/ansible_collections/ghostguard/certs
# Second controller: the newest ansible-core on pyenv's Python 3.13.
VENV313 ?= $(ROOT)/.venv-313
PY313 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3) $(shell command -v python3.13 2>/dev/null))
export ANSIBLE_COLLECTIONS_PATH := $(ROOT)/.build/collections
export ANSIBLE_PYTHON_INTERPRETER := $(VENV)/bin/python
export ANSIBLE_LOCALHOST_WARNING := false
export ANSIBLE_INVENTORY_UNPARSED_WARNING := false
export PATH := $(VENV)/bin:$(PATH)

.PHONY: all demo test deps apt venv collection lint ruff mypy yamllint ansible-lint pre-commit sanity unit integration molecule compat bench build clean

all: test

## set-up ---------------------------------------------------------------------
$(VENV)/.stamp: requirements-dev.txt requirements.txt
	$(BASEPY) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check --upgrade pip
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.stamp

apt:
	bash scripts/apt-deps.sh

collection:
	@mkdir -p $(dir $(COLL))
	@[ -L $(COLL) ] || ln -sfn $(ROOT) $(COLL)

deps: apt venv collection

## the two README commands ------------------------------------------------------
demo: deps
	bash demo/run.sh

test: deps lint sanity unit integration compat molecule
	@echo "make test: all stages passed"

## stages -----------------------------------------------------------------------
# the hooks of .pre-commit-config.yaml, one target each (`make pre-commit` runs them through pre-commit itself)
lint: ruff mypy yamllint ansible-lint

ruff: venv
	$(VENV)/bin/ruff check plugins tests bench scripts demo molecule

mypy: venv
	$(VENV)/bin/mypy

yamllint: venv
	$(VENV)/bin/yamllint --strict .

ansible-lint: deps
	$(VENV)/bin/ansible-lint --offline

pre-commit: venv collection
	$(VENV)/bin/pre-commit run --all-files

sanity: deps
	bash scripts/sanity.sh

# unit: nothing from apt (the tests marked `lab` run with the integration stage)
unit: venv collection
	$(PY) -m pytest tests/unit -q -p no:cacheprovider -m "not lab"

# Integration tests mostly wait on real servers (ACME orders, DNS propagation, reloads, handshakes):
# two pytest-xdist workers, one test file each at a time (a file's fleet or lab is never shared across
# workers; every worker starts its own lab on free loopback ports).
TEST_WORKERS ?= 2
XDIST := -n $(TEST_WORKERS) --dist loadfile

integration: deps
	$(PY) -m pytest tests/unit -q -p no:cacheprovider -m lab
	$(PY) -m pytest tests/integration -q -p no:cacheprovider $(XDIST)

molecule: deps
	@if ls molecule/*/molecule.yml >/dev/null 2>&1; then \
	  for s in molecule/*/molecule.yml; do $(VENV)/bin/molecule test -s $$(basename $$(dirname $$s)); done; \
	else echo "molecule: no scenario yet"; fi

$(VENV313)/.stamp: requirements-compat.txt
	@[ -n "$(PY313)" ] || { echo "compat: no Python 3.13 found (looked in ~/.pyenv/versions/3.13*/bin and PATH); install one or set PY313=/path/to/python3.13" >&2; exit 1; }
	$(PY313) -m venv $(VENV313)
	$(VENV313)/bin/pip install -q --disable-pip-version-check -r requirements-compat.txt
	touch $@

# Unit and integration tests again on the newest ansible-core (Python 3.13), then ansible-test
# sanity there too. The fleet runs (renew.yml over loopback fleets: the Go watchers, two runs at once, CA down and
# fallback CAs, the drill, revoked certificates, EAB, interrupted runs, names and schedules, the HTML report; AWX runner,
# SSH store host and EE builds, the certwatch role, the demo), the crash trials and the plain-venv engine run are not
# repeated there (renew.yml's validation and rollback.yml still are): they drive
# the same modules, filters and engine that the remaining tests cover here (and run in full on
# ansible-core 2.19 in `integration`), and repeating them would double
# the CI time.
COMPAT_SKIP := $(foreach f,test_renew_playbook test_renew_watch test_renew_agent_handlers test_renew_awx test_execution_environment test_certwatch_role \
	test_demo test_deploy_crash_safety test_engine_plain_venv test_renew_converge test_inventory_model \
	test_renew_two_runs test_renew_ca_down test_renew_fallback_ca test_drill test_renew_html test_renew_revoked test_renew_awx_ssh \
	test_eab test_renew_interrupt test_renew_names test_renew_schedule,--ignore=tests/integration/$(f).py)
compat: deps $(VENV313)/.stamp
	$(VENV313)/bin/python -c "import ansible.release as r, sys; print('compat: ansible-core', r.__version__, 'on Python', sys.version.split()[0])"
	$(VENV313)/bin/python -m pytest tests/unit tests/integration -q -p no:cacheprovider $(XDIST) $(COMPAT_SKIP)
	VENV=$(VENV313) SANITY_PYTHON=3.13 bash scripts/sanity.sh

bench: deps
	bash bench/run.sh

build: venv
	$(VENV)/bin/ansible-galaxy collection build --force --output-path .build

clean:
	rm -rf .build demo/out tests/output
