# The two commands a newcomer needs are `make demo` and `make test`; every other target is a step of theirs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DDB_LOCAL := .local/dynamodb-local
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: all venv dynamodb-local test lint demo synth bench clean

all: test

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt lambdas/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .  # the `ledger-backup` command, editable
	touch $@

dynamodb-local: $(DDB_LOCAL)/DynamoDBLocal.jar

$(DDB_LOCAL)/DynamoDBLocal.jar: scripts/fetch-dynamodb-local.sh
	scripts/fetch-dynamodb-local.sh $(DDB_LOCAL)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: venv dynamodb-local lint
	DYNAMODB_LOCAL_DIR=$(DDB_LOCAL) $(BIN)/pytest

demo: venv dynamodb-local
	DYNAMODB_LOCAL_DIR=$(DDB_LOCAL) PYTHONPATH=lambdas:. $(BIN)/python scripts/demo.py

# Writes cdk.out/ (one template per environment) with the pinned CDK CLI; Lambda bundling runs locally.
synth: venv node_modules/.package-lock.json
	npx --no-install cdk synth --quiet

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

clean:
	rm -rf $(VENV) .local cdk.out node_modules .pytest_cache .mypy_cache .ruff_cache

# Our backup and restore against the engine's raw limits and the runbook's way (~15 min; BENCH_ARGS=--quick: ~2 min).
bench: venv dynamodb-local
	DYNAMODB_LOCAL_DIR=$(DDB_LOCAL) PYTHONPATH=lambdas:. $(BIN)/python -m bench $(BENCH_ARGS)
