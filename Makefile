# darknet-lambda: every command a developer or CI runs. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The default model is the contract's (darknet_detector.contract, standard library only: any python3 reads
# it, before the virtualenv exists), read once when MODEL is not given.
ifeq ($(origin MODEL),undefined)
MODEL := $(shell PYTHONPATH=container $(PYTHON) -m darknet_detector.contract default-model)
$(if $(MODEL),,$(error cannot read the default model: PYTHONPATH=container $(PYTHON) -m darknet_detector.contract default-model failed))
endif
# The image every target builds and tests; set it to keep two builds of different sources apart.
IMAGE_TAG ?= darknet-lambda:$(MODEL)
# The CPU the image is for: x86_64, or arm64 (Graviton; built and checked here under qemu-user). An arm64
# build gets its own tag, so both can be kept side by side; every target below follows it.
ARCH ?= x86_64
ifeq ($(ARCH),arm64)
IMAGE_TAG := $(IMAGE_TAG)-arm64
endif
HOST_ARCH := $(subst aarch64,arm64,$(shell uname -m))
IMAGE ?=
export MODEL IMAGE IMAGE_TAG ARCH
# Targets that run the image build it first, unless IMAGE_READY=1 says it is built (make test builds it
# once, beside lint and the unit tests).
IMAGE_PREREQ := $(if $(IMAGE_READY),,image)

.PHONY: help venv lint unit image detect box-figure container-test parity native-only bench tune tune-models e2e up down localstack-venv local-stack-test demo backfill docs test clean

help: ## list the commands
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

venv: $(VENV)/.installed ## project virtualenv with the dev tools

lint: venv ## ruff lint and format check over the whole tree, mypy over the components and the function
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

unit: venv ## unit tests: Pulumi mocks and pure functions, no Docker, seconds
	$(VENV)/bin/pytest tests/unit

image: ## build darknet-lambda:MODEL and its -reference variant (ARCH=arm64: for Graviton, under emulation)
	PYTHON=$(PYTHON) bash container/scripts/build-image.sh

detect: venv $(IMAGE_PREREQ) ## IMAGE=path/to.jpg through the local container (ENGINE=darknet: the reference variant)
	cd container/scripts && ../../$(PY) detect.py $(if $(IMAGE),"$(abspath $(IMAGE))") \
	  --out "$(CURDIR)/out" --container-image $(IMAGE_TAG) $(if $(ENGINE),--engine $(ENGINE))

box-figure: venv $(IMAGE_PREREQ) ## docs/box-coordinates.svg and the worked example's numbers, from dog.jpg through the image
	cd container/scripts && ../../$(PY) box_figure.py --out "$(CURDIR)/docs/box-coordinates.svg" \
	  --container-image $(IMAGE_TAG)

container-test: venv $(IMAGE_PREREQ) ## the built image under AWS's Lambda emulator, S3 on moto
	$(VENV)/bin/pytest tests/container

parity: venv $(IMAGE_PREREQ) ## the image's engines against the Darknet CLI on the seven samples (ARCH=arm64: emulated)
	$(VENV)/bin/pytest tests/container/test_parity.py

# Timings of an image for another CPU are the emulator's, not that CPU's: bench and tune refuse them.
native-only:
	@test "$(ARCH)" = "$(HOST_ARCH)" || { echo "make: $(ARCH) runs emulated on this $(HOST_ARCH) machine;" \
	  "its timings would say nothing about $(ARCH) hardware: measure them on $(ARCH) hardware" >&2; exit 2; }

bench: native-only venv $(IMAGE_PREREQ) ## both engines side by side, unrestricted and as a 1024 MB Lambda
	$(PY) container/scripts/bench.py

tune: native-only venv $(IMAGE_PREREQ) ## latency and cost per million images at each Lambda memory size; picks the cheapest
	$(PY) container/scripts/tune.py

tune-models: native-only venv $(IMAGE_PREREQ) ## every manifest model's memory size, latency and cost, into docs/models-pricing.md
	$(PY) container/scripts/tune.py --all-models --write docs/models-pricing.md

e2e: venv $(IMAGE_PREREQ) ## the whole flow on LocalStack, deployed through the Pulumi program
	bash localstack/ensure-browser.sh
	bash localstack/run.sh e2e

up: venv $(IMAGE_PREREQ) ## deploy to LocalStack and leave it running for the command, curl, the aws CLI, a browser
	bash localstack/run.sh up

down: venv ## tear down what make up left running
	bash localstack/run.sh down

# LocalStack's own virtualenv: make e2e and make up make it when it is missing; make test makes it early.
localstack-venv:
	bash localstack/run.sh venv

# Not in make e2e: these tests run make up, make demo and make down themselves.
local-stack-test: venv $(IMAGE_PREREQ) ## make up (twice), the command, curl and the aws CLI on it, make demo, make down (twice)
	$(VENV)/bin/pytest tests/e2e -m local_stack -p no:cacheprovider

demo: venv $(IMAGE_PREREQ) ## make up, the command's verbs on IMAGE (default dog.jpg) as a person types them, make down
	bash localstack/demo.sh

backfill: venv ## PREFIX=input/... of existing images through the queue (WAIT=1 waits and reports)
	@test -n "$(PREFIX)" || { echo "set PREFIX=input/... (the stack: see darknet-lambda --help)"; exit 2; }
	$(VENV)/bin/darknet-lambda backfill "$(PREFIX)" $(if $(WAIT),--wait)

docs: venv ## regenerate docs/configuration.md's settings tables from the components' Args
	$(PY) docs/configuration_doc.py

# Lint, the unit tests and LocalStack's virtualenv need no Docker, so they run while the image builds (much
# of a build waits on downloads, the package manager and layer commits); the suites that run the image
# then take the machine one at a time.
test: ## everything CI runs
	$(MAKE) --no-print-directory --jobs=4 --output-sync=target lint unit image localstack-venv
	$(MAKE) --no-print-directory --jobs=1 container-test e2e local-stack-test IMAGE_READY=1

clean: ## remove the venv, caches and outputs (keeps Docker images)
	rm -rf $(VENV) .cache out container/cache/wheels container/cache/models
