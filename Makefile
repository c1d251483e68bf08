# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
PYTEST_ARGS ?=

STAGE ?= dev
PACKAGE_OUT ?= build/package/$(STAGE)
CDK_OUT ?= infra/cdk.out
# chalice package and the CDK need a region name, never credentials; jsii's Node.js notice is noise.
export AWS_DEFAULT_REGION ?= us-east-1
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION ?= 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION ?= 1
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION ?= 1

.PHONY: run demo test lint typecheck pytest unit format migrate clean package synth cfn-lint coverage deploy typecheck-infra

$(INSTALLED): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade 'pip<26.3'  # chalice 1.34 requires pip<26.3
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

run: $(INSTALLED)
	$(PY) scripts/run_local.py

# make run with the clock at 08:59:30 UTC and a user born today: a birthday webhook in ~1 minute.
demo: $(INSTALLED)
	DEMO=1 $(PY) scripts/run_local.py

test: lint typecheck pytest

lint: $(INSTALLED)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(INSTALLED)
	$(PY) -m mypy

# The CDK app, strictly typed too; separate because aws-cdk-lib's stubs take ~45 s to load cold.
typecheck-infra: $(INSTALLED)
	$(PY) -m mypy infra/cdk_app.py infra/stacks

pytest: $(INSTALLED)
	$(PY) -m pytest $(PYTEST_ARGS)

unit: $(INSTALLED)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

format: $(INSTALLED)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# The Lambda deployment package and SAM template for one stage: `chalice package`, then lean,
# precompiled and reproducible (scripts/build_package.py; the CDK app builds the same).
package: $(INSTALLED)
	rm -rf $(PACKAGE_OUT)
	$(PY) scripts/build_package.py --stage $(STAGE) --out $(PACKAGE_OUT)
	@ls -l $(PACKAGE_OUT)

# The CDK cloud assembly for one stage (STAGE=dev|staging|prod), offline.
synth: $(INSTALLED)
	rm -rf $(CDK_OUT)
	$(PY) infra/cdk_app.py --stage $(STAGE) --out $(CDK_OUT)

# Deploys one stage with the pinned CDK CLI (credentials from the environment: CI assumes a
# role by OIDC). WEBHOOK_URL is required; JWKS_URL, JWT_ISSUER, JWT_AUDIENCE are optional.
DEPLOY_ID ?= $(shell git rev-parse --short HEAD 2>/dev/null)
deploy: $(INSTALLED)
	@test -n "$(WEBHOOK_URL)" || { echo "WEBHOOK_URL must be set"; exit 1; }
	mkdir -p build && cd infra && npm ci --no-audit --no-fund && npx --no-install cdk deploy \
	  --app "../$(PY) cdk_app.py" -c stage=$(STAGE) -c deploy_id=$(DEPLOY_ID) \
	  $(if $(ALARM_EMAIL),-c alarm_email=$(ALARM_EMAIL)) \
	  --parameters WebhookUrl=$(WEBHOOK_URL) --parameters JwksUrl=$(JWKS_URL) \
	  --parameters JwtIssuer=$(JWT_ISSUER) --parameters JwtAudience=$(JWT_AUDIENCE) \
	  --require-approval never --outputs-file ../build/outputs-$(STAGE).json

cfn-lint: synth
	$(VENV)/bin/cfn-lint $(CDK_OUT)/$(STAGE).template.json

# What CI runs: every test, with branch coverage of chalicelib and app.py at 80 % or more.
coverage: $(INSTALLED)
	$(PY) -m pytest --cov --cov-report=term --cov-report=xml --cov-fail-under=80 $(PYTEST_ARGS)

migrate: $(INSTALLED)
	$(PY) scripts/migrate.py up

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build infra/cdk.out
