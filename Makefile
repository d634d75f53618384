# Every target the README and CI use. `make run` and `make test` set up everything.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
BIND   ?= 127.0.0.1:8000
SPEC   ?= swagger.json
export FLASK_APP := run

.PHONY: install run serve migrate test lint format swagger bench bench-install bench-profile bench-amqp clean

$(VENV)/.installed: requirements.lock requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements-dev.lock
	touch $@

install: $(VENV)/.installed ## the virtualenv with pinned dependencies

migrate: install ## apply database migrations (DATABASE_URL, default SQLite in instance/)
	$(BIN)/flask db upgrade

run: migrate ## development server on 127.0.0.1:5000
	$(BIN)/flask run --host 127.0.0.1 --port 5000

serve: migrate ## gunicorn with gunicorn.conf.py on $(BIND), and the outbox relay beside it
	@# The relay stops with serve: killed on exit, and it exits itself if this shell dies.
	@# It polls the database all the time: no SQL echo for it, even in development.
	APP_SQLALCHEMY_ECHO=false $(BIN)/flask outbox relay --exit-with-parent & relay=$$!; \
	trap 'kill $$relay 2>/dev/null; wait $$relay' EXIT; \
	BIND=$(BIND) $(BIN)/gunicorn -c gunicorn.conf.py run:app

test: install ## the test suite (TEST_DATABASE_URL adds MariaDB/MySQL)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install ## ruff check + format check, as CI runs them
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

swagger: install ## export the spec to $(SPEC)
	$(BIN)/python -m swagger_export -o $(SPEC)

$(VENV)/.bench-installed: $(VENV)/.installed bench/requirements.lock
	$(BIN)/python -m pip install -q -r bench/requirements.lock
	touch $@

bench-install: $(VENV)/.bench-installed ## benchmark tools: bench/requirements.lock into .venv, wrk from apt
	@command -v wrk >/dev/null || { echo "installing wrk (apt-get)"; apt-get update -qq && apt-get install -y -qq wrk; }

bench: bench-install ## the project vs bare Flask and FastAPI under wrk (BENCH_QUICK=1: < 3 min); bench/README.md
	$(BIN)/python -m bench.run

bench-profile: bench-install ## py-spy profiles of the project's workers under load (bench/README.md)
	$(BIN)/python -m bench.profile

bench-amqp: install ## publish rate with confirms, and the outbox relay, against the local RabbitMQ
	$(BIN)/python bench/amqp_publish.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
