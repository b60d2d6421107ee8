# Two commands from a fresh clone:
#   make demo   sets everything up and deploys the local site (XNAT stand-in + JupyterHub + haproxy)
#   make test   sets everything up and runs every test layer (see tests/run.sh)
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := $(CURDIR)/.venv
PYTHON ?= python3
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: help demo test check setup deps docker venv images layer teardown bench constraints clean

help:
	@echo "make demo      deploy XNAT stand-in + JupyterHub + haproxy on this machine (inventories/local)"
	@echo "make test      run every test layer from scratch (tests/run.sh)"
	@echo "make check     the fast inner loop: static checks and unit tests (no Docker)"
	@echo "make layer L=<name>   run one test layer, e.g. L=unit (names: tests/run.sh --list)"
	@echo "make teardown  remove what the demo deployed (user data kept)"
	@echo "make bench     run the benchmarks (login, spawn, deploy); they print numbers, not pass/fail"

setup: deps docker venv

deps:
	@scripts/install-deps.sh

docker: deps
	@scripts/ensure-docker.sh

venv: $(VENV)/.installed

$(VENV)/.installed: requirements/controller.txt requirements/test.txt requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/test.txt -c requirements/constraints.txt
	touch $@

demo: setup
	ansible-playbook -i inventories/local site.yml
	@echo
	@echo "JupyterHub for XNAT is running on this machine (self-signed certificate):"
	@echo "  XNAT stand-in (for demos, not XNAT):  https://localhost/"
	@echo "  JupyterHub:                           https://localhost/jupyterhub/"
	@echo "Log in as 'demo' (has the Jupyter role) or 'viewer' (has not); their passwords are in"
	@echo "  /var/lib/xnat-jupyterhub/local-credentials/demo-user and .../viewer-user (the admin's in .../xnat-admin)."
	@echo "Launch a notebook from the stand-in's page, on project DEMO01 -> SUBJ01 -> SUBJ01_MR1."

teardown: setup
	ansible-playbook -i inventories/local playbooks/teardown.yml

test: setup
	tests/run.sh

check: deps venv
	tests/run.sh --parallel static unit

layer: setup
	tests/run.sh $(L)

images: setup
	tests/run.sh images

# Benchmarks, one after another; spawn needs the images, deploy redeploys the local site.
bench: setup
	tests/run.sh images
	bench/run.sh login
	bench/run.sh spawn
	bench/run.sh deploy

# Re-resolve the full pinned set after changing requirements/*.txt.
constraints:
	rm -rf build/constraints-venv
	$(PYTHON) -m venv build/constraints-venv
	build/constraints-venv/bin/pip install --quiet -r requirements/test.txt
	(echo "# Full resolved set for requirements/test.txt (pip freeze). Regenerate with: make constraints"; \
	 build/constraints-venv/bin/pip freeze --exclude-editable) > requirements/constraints.txt

clean:
	rm -rf build .venv
