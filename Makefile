# One path to green: .ci/run and the forge workflow call these targets.
SHELL := /bin/sh
VENV := .venv
BIN := $(VENV)/bin
SCENARIOS := default systemd distros cluster ssh upstream alerting
# The ends of the supported ansible-core range (tests/compat/<end>.txt);
# `make compat COMPAT_ENDS=newest` runs one.
COMPAT_ENDS := oldest newest
export PATH := $(CURDIR)/$(BIN):$(PATH)
export ANSIBLE_FORCE_COLOR := 0
# The app commit the role is proven against, pinned in tests/upstream/app.env;
# `make images molecule-upstream UPSTREAM_COMMIT=<sha> UPSTREAM_CONTENT_SHA256=<digest>`
# proves it against another one.
UPSTREAM_COMMIT ?= $(shell sed -n 's/^UPSTREAM_COMMIT=//p' tests/upstream/app.env)
export UPSTREAM_COMMIT
# The upstream image's tag: the commit and a digest of the image's recipe.
export SM_UPSTREAM_IMAGE := $(shell UPSTREAM_COMMIT=$(UPSTREAM_COMMIT) scripts/build-images.sh --upstream-tag)

.PHONY: help demo test host venv images lint changelog unit ansible-test consumer galaxy-importer compat faults molecule $(addprefix molecule-,$(SCENARIOS)) bench clean

help: ## list the targets
	@grep -E '^[a-z%-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

demo: host venv ## provision a local Debian container with the role and show the result
	scripts/build-images.sh bookworm
	scripts/demo.sh

# Two lanes side by side after the set-up (scripts/run-stages.sh): no two
# stages of different lanes share a container name or a file.
test: ## everything CI runs: host set-up, lint, unit tests, the consumer project and the AWX runner, Galaxy's importer, both ends of the ansible-core range, runs cut short and full disks, every molecule scenario (alerting: Prometheus to the app's incidents)
	scripts/run-stages.sh host venv images \
	  -- lint unit ansible-test consumer galaxy-importer compat molecule-systemd molecule-distros molecule-cluster \
	     molecule-ssh molecule-alerting \
	  -- molecule-default faults molecule-upstream

host: ## install apt dependencies (docker.io, mmdebstrap...) and start dockerd
	scripts/bootstrap.sh

# This checkout is the collection server_maintanence.ops; ansible.cfg and the
# molecule config find it here, so its FQCNs resolve from a clone.
COLLECTION_LINK := .cache/collections/ansible_collections/server_maintanence/ops
venv: $(BIN)/.installed $(COLLECTION_LINK) ## the pinned Python toolchain in .venv, and this checkout as a collection

$(BIN)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(COLLECTION_LINK):
	mkdir -p $(@D)
	ln -sfn ../../../.. $@

images: venv ## build every test image (skips existing tags)
	scripts/build-images.sh

# antsibull-* read the collection through ansible.cfg's collections_path.
lint: venv ## yamllint, ansible-lint (production profile), antsibull-changelog lint, antsibull-docs on the plugin docs, promtool check rules
	$(BIN)/yamllint --strict .
	promtool check rules roles/server_maintanence/files/server-maintanence.rules.yml
	$(BIN)/ansible-lint --profile production
	$(BIN)/antsibull-changelog lint
	$(BIN)/antsibull-docs lint-collection-docs --plugin-docs .

changelog: venv ## CHANGELOG.md from changelogs/changelog.yaml (antsibull-changelog generate)
	$(BIN)/antsibull-changelog generate

unit: venv ## controller-side unit tests (filters, docs, workflow, the app contract)
	scripts/fetch-upstream.sh >/dev/null
	$(BIN)/pytest -p no:cacheprovider --junitxml=.cache/results/unit.xml tests/unit

ansible-test: venv ## ansible-test sanity and units on the collection as it ships (no docker; venvs from PyPI)
	scripts/ansible-test.sh all

# Needs docker and local/debian:bookworm (the host and images stages), like molecule.
consumer: venv ## the collection as users consume it: build, install (tarball and git), apply from tests/consumer
	$(BIN)/pytest -p no:cacheprovider --junitxml=.cache/results/consumer.xml tests/consumer

# Galaxy's importer in a venv of its own (tests/release/requirements.txt:
# it caps attrs below what .venv runs on).
IMPORTER_VENV := .cache/galaxy-importer
$(IMPORTER_VENV)/.installed: tests/release/requirements.txt
	python3 -m venv $(IMPORTER_VENV)
	$(IMPORTER_VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/release/requirements.txt
	touch $@

galaxy-importer: venv $(IMPORTER_VENV)/.installed ## Galaxy's and Automation Hub's import of the tarball (ansible-doc, ansible-lint; ansible-test off)
	scripts/galaxy-import.sh $(IMPORTER_VENV)

# Needs docker and the images, like molecule; each test makes containers of its own.
faults: venv ## runs killed at each kind of write, full filesystems, two runs at once (tests/infra/faults)
	$(BIN)/pytest -p no:cacheprovider --junitxml=.cache/results/faults.xml tests/infra/faults

# Needs docker; builds the images it uses when missing (the newest end's
# Debian 13 controller included). Venvs from PyPI under .cache/compat.
compat: venv ## the oldest and newest ansible-core: converge, idempotence, check mode, status on Debian 11-13
	scripts/compat.sh $(COMPAT_ENDS)

molecule: venv ## one scenario: make molecule SCENARIO=default
	$(BIN)/molecule test -s $(SCENARIO)

$(addprefix molecule-,$(SCENARIOS)): molecule-%: venv
	$(BIN)/molecule test -s $*

# The ssh scenario's throwaway key pair; its public half is bind-mounted into the containers.
SSH_KEY := .cache/ssh/id_ed25519
$(SSH_KEY):
	mkdir -p $(@D)
	ssh-keygen -q -t ed25519 -N '' -C server-maintanence-molecule -f $@

molecule molecule-ssh: $(SSH_KEY)

bench: host venv images ## speed benchmark: prints ratios to the floor
	bench/speed.sh

clean: ## remove the venv, caches and test containers
	-docker rm -f server-maintanence-demo 2>/dev/null
	-docker ps -aq --filter name=sm-consumer- | xargs -r docker rm -f
	-docker ps -aq --filter name=sm-compat- | xargs -r docker rm -f
	rm -rf $(VENV) .cache
