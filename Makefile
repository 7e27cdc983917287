# The two commands: `make run` (the whole product on the embedded default) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/imaging
HOST ?= 127.0.0.1
PORT ?= 8000
# DEBUG is off unless set (imaging/settings.py): the development targets turn it on.
DEV := DEBUG=$${DEBUG:-true}

.PHONY: run test test-faults venv migrate lint lint-imports fmt check clean bench bench-api fuzz docs viewer-size api-check bench-publish bench-duplicates bench-qc bench-webhooks

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

migrate: venv
	$(DEV) $(PY) manage.py migrate --noinput

# runstack refuses before printing anything when the port (or the S3 port) is taken, then
# migrates and starts everything.
run: venv
	@$(DEV) $(PY) manage.py runstack --host $(HOST) --port $(PORT)

test: venv
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} bash scripts/ensure-test-deps.sh
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(PY) -m pytest -n 2 --dist loadgroup -m "not faults"

# Kills and restarts workers, Redis, SeaweedFS and database connections: slower, kept apart.
test-faults: venv
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} bash scripts/ensure-test-deps.sh
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(PY) -m pytest -m faults tests/faults

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The layers between apps (pyproject.toml [tool.importlinter]); a cycle fails the build.
lint-imports: venv
	PYTHONPATH=. $(VENV)/bin/lint-imports

fmt: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

check: venv
	$(DEV) $(PY) manage.py makemigrations --check --dry-run
	$(MAKE) lint

clean:
	rm -rf $(VENV) var/*.sqlite3 var/seaweedfs site

# The documentation site (docs/, mkdocs.yml) into site/; any warning (a broken link, a missing
# snippet) fails the build.
docs: venv
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

# The published OpenAPI schema: generated and validated, linted with Redocly (redocly.yaml),
# and both client generators run over it (a TypeScript and a Python client, into var/api/).
# The Node tools are pinned in package-lock.json (`npm ci`).
API_OUT := var/api
api-check: venv
	test -x node_modules/.bin/redocly || npm ci --no-audit --no-fund
	mkdir -p $(API_OUT)
	$(DEV) $(PY) manage.py spectacular --format openapi-json --validate --fail-on-warn --file $(API_OUT)/openapi.json
	npx --no-install redocly lint $(API_OUT)/openapi.json
	npx --no-install openapi-typescript $(API_OUT)/openapi.json -o $(API_OUT)/schema.d.ts --redocly scripts/openapi-typescript.redocly.yaml
	rm -rf $(API_OUT)/python-client
	$(VENV)/bin/openapi-python-client generate --path $(API_OUT)/openapi.json --output-path $(API_OUT)/python-client --config scripts/openapi-python-client.yaml --meta none

bench: venv
	$(DEV) $(PY) bench/pipeline.py

bench-publish: venv
	$(DEV) $(PY) bench/renditions.py
	$(DEV) $(PY) bench/publish.py

# How soon a device sees a frame's QC verdict (ETag polling), idle and at 80 % worker load.
bench-qc: venv
	$(DEV) $(PY) bench/qc_feedback.py

# One million perceptual hashes in PostgreSQL (DATABASE_URL, by default the tests' server): the near-duplicate lookup's p99.
bench-duplicates: venv
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(DEV) $(PY) bench/duplicates.py

# Webhook deliveries per second with two worker processes, and commit → first attempt latency,
# against bare POSTs to the same loopback receiver (a scratch database on DATABASE_URL's server).
bench-webhooks: venv
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(DEV) $(PY) bench/webhooks.py

fuzz: venv
	$(DEV) $(PY) scripts/fuzz.py

bench-api: venv
	command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(DEV) $(PY) bench/api_load.py

# The spin viewer's size, gzipped as shipped and minified (terser: development only, from npm).
viewer-size: venv
	test -x node_modules/.bin/terser || npm ci --no-audit --no-fund
	$(PY) scripts/viewer_size.py
