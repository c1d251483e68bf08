# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
PYTEST_ARGS ?=
# pytest-xdist's workers for make check and make test: one per core of the 2-core machines here.
WORKERS ?= 2

STAGE ?= dev
PACKAGE_OUT ?= build/package/$(STAGE)
CDK_OUT ?= infra/cdk.out
# chalice package and the CDK need a region name, never credentials; jsii's Node.js notice is noise.
export AWS_DEFAULT_REGION ?= us-east-1
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION ?= 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION ?= 1
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION ?= 1

.PHONY: console-vendor console-screenshots run demo docs check test lint typecheck pytest system-deps unit format migrate clean package synth cfn-lint coverage deploy typecheck-infra scan node
SCAN_VENV := .venv-checkov

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

# The fast loop (under 90 s here): lint, types and every test that needs no subprocess stack,
# Node or network, on two workers. `make test` (CI) runs everything.
check: lint typecheck
	$(PY) -m pytest -n $(WORKERS) -m "not (e2e or infra or stack)" $(PYTEST_ARGS)

# The docs site (docs/ and the API reference from chalicelib/openapi.json) → build/docs/, with
# MkDocs and the Material theme in strict mode: a broken link or anchor fails it. `make test`
# builds it too (tests/docs/test_site.py). Material's notice about its successor is noise here.
docs: $(INSTALLED)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir build/docs

lint: $(INSTALLED)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(INSTALLED)
	$(PY) -m mypy

# The CDK app, strictly typed too; separate because aws-cdk-lib's stubs take ~45 s to load cold.
typecheck-infra: $(INSTALLED)
	$(PY) -m mypy infra/cdk_app.py infra/stacks infra/hooks

# pytest-xdist workers: the e2e tests stay on one worker and the infra tests on one (tests/conftest.py
# GROUPS), the rest goes to whichever is free.
pytest: $(INSTALLED) system-deps
	$(PY) -m pytest -n $(WORKERS) $(PYTEST_ARGS)

# Debian packages some tests need, installed (as root) when missing: libical's introspection
# data, the independent RFC 7529 expansion tests/oracles/libical_expand.py runs under Debian's
# own Python; Chromium, the browser tests/e2e/test_console.py drives headless.
system-deps:
	@/usr/bin/python3 -c "import gi; gi.require_version('ICalGLib', '3.0')" 2>/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    python3-gi gir1.2-ical-3.0 >/dev/null; }
	@test -x /usr/bin/chromium || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    chromium >/dev/null; }

# The console's front-end libraries (chalicelib/console/vendor.json): fetched again from the npm
# registry and checked against the manifest's sha512 integrity (scripts/vendor_console.py).
console-vendor: $(INSTALLED)
	$(PY) scripts/vendor_console.py --fetch

# The console in a browser against a make run stack (tests/e2e/test_console.py), its screenshots
# from build/console/ copied to docs/images/console/ for docs/console.md.
console-screenshots: $(INSTALLED) system-deps
	$(PY) -m pytest tests/e2e/test_console.py -p no:cacheprovider $(PYTEST_ARGS)
	mkdir -p docs/images/console && cp build/console/*.png docs/images/console/

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

# The CDK (jsii) runs on Node.js: synth and deploy need `node` (22 or 24) on the PATH.
node:
	@command -v node >/dev/null || { echo "Node.js is needed for make synth/deploy/cfn-lint (the CDK runs on it): install Node.js 22 or 24"; exit 1; }

# The CDK cloud assembly for one stage (STAGE=dev|staging|prod), offline. DATA_PLANE=1: the data
# plane alone (event-scheduler-STAGE-data), for `chalice deploy --stage` (scripts/chalice_stage.py).
synth: $(INSTALLED) node
	rm -rf $(CDK_OUT)
	$(PY) infra/cdk_app.py --stage $(STAGE) --out $(CDK_OUT) $(if $(DATA_PLANE),--data-plane)

# Deploys one stage with the pinned CDK CLI (credentials from the environment: CI assumes a
# role by OIDC). WEBHOOK_URL is required; JWKS_URL, JWT_ISSUER, JWT_AUDIENCE are optional.
DEPLOY_ID ?= $(shell git rev-parse --short HEAD 2>/dev/null)
deploy: $(INSTALLED) node
	@test -n "$(WEBHOOK_URL)" || { echo "WEBHOOK_URL must be set"; exit 1; }
	mkdir -p build && cd infra && npm ci --no-audit --no-fund && npx --no-install cdk deploy \
	  --app "../$(PY) cdk_app.py" -c stage=$(STAGE) -c deploy_id=$(DEPLOY_ID) \
	  $(if $(DATA_PLANE),-c app=false) $(if $(ORG_TRAIL),-c cloudtrail=organization) \
	  $(if $(ALARM_EMAIL),-c alarm_email=$(ALARM_EMAIL)) \
	  --parameters WebhookUrl=$(WEBHOOK_URL) --parameters JwksUrl=$(JWKS_URL) \
	  --parameters JwtIssuer=$(JWT_ISSUER) --parameters JwtAudience=$(JWT_AUDIENCE) \
	  --require-approval never --outputs-file ../build/outputs-$(STAGE)$(if $(DATA_PLANE),-data).json

cfn-lint: synth
	$(VENV)/bin/cfn-lint $(CDK_OUT)/$(STAGE)$(if $(DATA_PLANE),-data).template.json

# checkov on the synthesized template and zizmor on the workflows, each with its baseline of
# accepted findings (.checkov.yaml, .github/zizmor.yml). Own virtualenv: checkov's pins clash.
$(SCAN_VENV)/.installed: requirements-scan.txt
	@test -x $(SCAN_VENV)/bin/python || $(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-scan.txt
	@touch $@

scan: $(SCAN_VENV)/.installed synth
	$(SCAN_VENV)/bin/checkov --config-file .checkov.yaml -f $(CDK_OUT)/$(STAGE).template.json
	$(SCAN_VENV)/bin/zizmor --config .github/zizmor.yml .github/workflows

# What CI runs: every test, with branch coverage of chalicelib and app.py at 80 % or more.
coverage: $(INSTALLED)
	$(PY) -m pytest --cov --cov-report=term --cov-report=xml --cov-fail-under=80 $(PYTEST_ARGS)

migrate: $(INSTALLED)
	$(PY) scripts/migrate.py up

clean:
	rm -rf $(VENV) $(SCAN_VENV) .pytest_cache .mypy_cache .ruff_cache build infra/cdk.out
