# Every target the docs (docs/testing.md) and CI use. `make run` and `make test` set up everything.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
BIND   ?= 127.0.0.1:8000
PORT   ?= 5000
SPEC   ?= swagger.json
OPENAPI ?= openapi.json
export FLASK_APP := run
SUDO   := $(shell test "$$(id -u)" = 0 || echo sudo)

FUZZ_EXAMPLES ?= 1000

.PHONY: install nginx haproxy chromium run serve migrate test test-unit test-services test-api test-e2e test-faults test-cluster fuzz lint speclint-install format swagger docs bench bench-install bench-profile bench-scale bench-amqp bench-ratelimit clean

$(VENV)/.installed: requirements.lock requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements-dev.lock
	touch $@

install: $(VENV)/.installed ## the virtualenv with pinned dependencies

# An unset APP_ENV means prod (settings.config_class); the targets that build the app for
# development say dev themselves, unless the caller chose an APP_ENV.
run serve migrate: export APP_ENV ?= dev

migrate: install ## apply database migrations (DATABASE_URL, default SQLite in instance/)
	$(BIN)/flask db upgrade

run: migrate ## development server on 127.0.0.1:$(PORT) (default 5000)
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT)

serve: migrate ## gunicorn with gunicorn.conf.py on $(BIND), and the outbox relay beside it
	@# The relay stops with serve: killed on exit, and it exits itself if this shell dies.
	@# It polls the database all the time: no SQL echo for it, even in development.
	APP_SQLALCHEMY_ECHO=false $(BIN)/flask outbox relay --exit-with-parent & relay=$$!; \
	trap 'kill $$relay 2>/dev/null; wait $$relay' EXIT; \
	BIND=$(BIND) $(BIN)/gunicorn -c gunicorn.conf.py run:app

nginx: ## nginx for the live tier (tests/e2e): the Debian package, when missing
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || { \
		echo "installing nginx (apt-get)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nginx; }

haproxy: ## HAProxy for the cluster tier (tests/cluster): the Debian package, when missing
	@command -v haproxy >/dev/null || test -x /usr/sbin/haproxy || { \
		echo "installing haproxy (apt-get)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq haproxy; }

chromium: ## Debian's Chromium for the Swagger UI tests (Playwright drives it and downloads no browser)
	@test -x /usr/bin/chromium || { \
		echo "installing chromium (apt-get)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; }

test: install nginx chromium ## the test suite, every tier (TEST_DATABASE_URL adds MariaDB/MySQL); fault tests bounded
	$(BIN)/pytest $(PYTEST_ARGS)

# One tier each: the directory is the tier (docs/testing.md, "Tiers").
test-unit test-services test-api: test-%: install
	$(BIN)/pytest tests/$* $(PYTEST_ARGS)

test-e2e: install nginx chromium
	$(BIN)/pytest tests/e2e $(PYTEST_ARGS)

FAULT_SECONDS ?= 20
test-faults: install nginx chromium ## the live tier with longer faults (FAULT_SECONDS each, 3 restart rounds)
	FAULT_SECONDS=$(FAULT_SECONDS) $(BIN)/pytest tests/e2e -rA $(PYTEST_ARGS)

# SIGINT, not SIGTERM, at the bound: pytest then runs the fixtures' teardown, which stops
# every cluster process it started. Its own basetemp: the figures and logs outlive other
# pytest runs (pytest keeps only the last three of /tmp/pytest-of-$USER).
CLUSTER_TIMEOUT ?= 900
CLUSTER_TMP ?= .cache/cluster-tier
test-cluster: install haproxy ## Galera+HAProxy, Redis Sentinel, RabbitMQ clusters of the tests' own, killed under load (docs/deployment-cluster.md)
	mkdir -p $(dir $(CLUSTER_TMP))
	timeout --signal=INT --kill-after=60 $(CLUSTER_TIMEOUT) \
		$(BIN)/pytest tests/cluster -rA --basetemp=$(CLUSTER_TMP) $(PYTEST_ARGS)

fuzz: install ## schemathesis at length: FUZZ_EXAMPLES cases per operation and phase
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/e2e/test_schemathesis.py -rA $(PYTEST_ARGS)

# Pinned OpenAPI linters (Redocly CLI, Spectral and the OWASP ruleset), from their lock file.
SPECLINT := tools/speclint
SPECLINT_OUT := build/speclint

$(SPECLINT)/node_modules/.installed: $(SPECLINT)/package.json $(SPECLINT)/package-lock.json
	cd $(SPECLINT) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

speclint-install: $(SPECLINT)/node_modules/.installed ## the OpenAPI linters into tools/speclint

lint: install speclint-install ## ruff check + format check + mypy, and production's documents linted, as CI runs them
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	mkdir -p $(SPECLINT_OUT)
	$(BIN)/python -m swagger_export --env prod -o $(SPECLINT_OUT)/swagger.json --openapi $(SPECLINT_OUT)/openapi.json
	$(SPECLINT)/lint.sh $(SPECLINT_OUT)/swagger.json $(SPECLINT_OUT)/openapi.json

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

SPEC_ENV ?= prod
swagger: install ## export $(SPEC_ENV)'s Swagger 2.0 to $(SPEC) and OpenAPI 3.1 to $(OPENAPI)
	$(BIN)/python -m swagger_export --env $(SPEC_ENV) -o $(SPEC) --openapi $(OPENAPI)

docs: install ## docs/configuration.md from the settings declaration
	$(BIN)/python -m settings.reference > docs/configuration.md.tmp && mv docs/configuration.md.tmp docs/configuration.md

$(VENV)/.bench-installed: $(VENV)/.installed bench/requirements.lock
	$(BIN)/python -m pip install -q -r bench/requirements.lock
	touch $@

bench-install: $(VENV)/.bench-installed ## benchmark tools: bench/requirements.lock into .venv, wrk from apt
	@command -v wrk >/dev/null || { echo "installing wrk (apt-get)"; $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk; }

# What the benchmarks' servers run from: a production install, requirements.lock only.
BENCH_SERVED := .cache/bench-served
$(BENCH_SERVED)/.installed: requirements.lock
	$(PYTHON) -m venv $(BENCH_SERVED)
	$(BENCH_SERVED)/bin/python -m pip install -q -r requirements.lock
	touch $@

bench: bench-install $(BENCH_SERVED)/.installed ## the project vs bare Flask and FastAPI under wrk (BENCH_QUICK=1: < 3 min); bench/README.md
	BENCH_SERVED_BIN=$(BENCH_SERVED)/bin $(BIN)/python -m bench.run

bench-profile: bench-install $(BENCH_SERVED)/.installed ## py-spy profiles of the project's workers under load (bench/README.md)
	BENCH_SERVED_BIN=$(BENCH_SERVED)/bin $(BIN)/python -m bench.profile

bench-scale: bench-install ## list latency at 10,000 vs 1,000,000 rows (BENCH_SCALE_ROWS), cursor depth; bench/README.md
	$(BIN)/python -m bench.scale

bench-amqp: install ## publish rate with confirms, and the outbox relay, against the local RabbitMQ
	$(BIN)/python -m bench.amqp_publish

bench-ratelimit: install ## CPU per limited request, Redis per request vs synced, and the tolerance (about a minute)
	$(BIN)/python -m bench.ratelimit

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .cache build tests/e2e/ts/node_modules $(SPECLINT)/node_modules
