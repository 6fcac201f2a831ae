# darknet-lambda: every command a developer or CI runs. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
MODEL ?= yolov3-tiny
# The image every target builds and tests; set it to keep two builds of different sources apart.
IMAGE_TAG ?= darknet-lambda:$(MODEL)
IMAGE ?=
export MODEL IMAGE IMAGE_TAG

.PHONY: help venv lint unit image detect container-test bench tune e2e demo backfill test clean

help: ## list the commands
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

venv: $(VENV)/.installed ## project virtualenv with the dev tools

lint: venv ## ruff lint and format check over the whole tree, mypy over the components
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy components

unit: venv ## unit tests: Pulumi mocks and pure functions, no Docker, seconds
	$(VENV)/bin/pytest tests/unit

image: ## build darknet-lambda:MODEL and its -reference variant (installs Docker and the base image if needed)
	PYTHON=$(PYTHON) bash container/scripts/build-image.sh

detect: venv image ## IMAGE=path/to.jpg through the local container (ENGINE=darknet: the reference variant)
	cd container/scripts && ../../$(PY) detect.py $(if $(IMAGE),"$(abspath $(IMAGE))") \
	  --out "$(CURDIR)/out" --container-image $(IMAGE_TAG) $(if $(ENGINE),--engine $(ENGINE))

container-test: venv image ## the built image under AWS's Lambda emulator, S3 on moto
	$(VENV)/bin/pytest tests/container

bench: venv image ## both engines side by side, unrestricted and as a 1024 MB Lambda
	$(PY) container/scripts/bench.py

tune: venv image ## latency and cost per million images at each Lambda memory size; picks the cheapest
	$(PY) container/scripts/tune.py

e2e: venv image ## the whole flow on LocalStack, deployed through the Pulumi program
	bash localstack/run.sh e2e

demo: venv image ## the main job: IMAGE (default dog.jpg) through the S3 and HTTP paths on LocalStack
	bash localstack/run.sh demo

# The deployed stack's bucket and queue (its bucketName and queueUrl outputs).
BUCKET ?= $(shell command -v pulumi >/dev/null 2>&1 && pulumi stack output bucketName 2>/dev/null)
QUEUE_URL ?= $(shell command -v pulumi >/dev/null 2>&1 && pulumi stack output queueUrl 2>/dev/null)
backfill: venv ## PREFIX=input/... of existing images through the queue (WAIT=1 waits and reports)
	@test -n "$(PREFIX)" || { echo "set PREFIX=input/... (and BUCKET, QUEUE_URL without the Pulumi CLI)"; exit 2; }
	$(PY) -m darknet_lambda.backfill --bucket "$(BUCKET)" --prefix "$(PREFIX)" --queue-url "$(QUEUE_URL)" \
	  $(if $(WAIT),--wait --report backfill-report.jsonl)

test: lint unit container-test e2e ## everything CI runs

clean: ## remove the venv, caches and outputs (keeps Docker images)
	rm -rf $(VENV) .cache out container/cache/wheels container/cache/models
