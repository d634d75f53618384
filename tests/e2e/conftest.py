"""Fixtures for the live tier: gunicorn (production settings) behind the shipped nginx, and
the session's two gunicorns on ``run:app`` that the fuzzer, the generated clients and Swagger UI use.

``FAULT_SECONDS`` sets how long each fault test keeps its load running (``make test``:
a few seconds; ``make test-faults``: longer).
"""

from __future__ import annotations

import os
import uuid

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from extensions import db
from factory import create_app, init_migrations
from tests.helpers.gunicorn import Gunicorn
from tests.helpers.live_server import API_KEY, LiveServer, RabbitVhost
from tests.helpers.nginx import nginx_binary
from tests.helpers.ports import reachable
from tests.helpers.redis_support import redis_config
from tests.helpers.require import need, require_port


@pytest.fixture(scope="session")
def fault_seconds() -> float:
    return float(os.environ.get("FAULT_SECONDS", "3"))


@pytest.fixture(scope="session")
def nginx_installed():
    if nginx_binary() is None:
        need("nginx is not installed (make test installs it with apt-get)")


def _migrate(url: str) -> None:
    app = create_app({"ENV_NAME": "test", "SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_ECHO": False})
    init_migrations(app)
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def mysql_e2e_url():
    """A migrated MariaDB database of the live tier's own (TEST_DATABASE_URL's name + ``_e2e``)."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        need("TEST_DATABASE_URL is not set: the live tier needs MariaDB")
    parsed = make_url(base)
    if not reachable(parsed.host or "127.0.0.1", parsed.port or 3306):
        need(f"MySQL at {parsed.host}:{parsed.port or 3306} is not reachable")
    url = parsed.set(database=f"{parsed.database}_e2e")
    server = create_engine(parsed.set(database=""), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{url.database}`"))
        conn.execute(text(f"CREATE DATABASE `{url.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
    rendered = url.render_as_string(hide_password=False)
    _migrate(rendered)
    yield rendered
    with server.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{url.database}`"))
    server.dispose()


@pytest.fixture
def sqlite_e2e_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    _migrate(url)
    return url


@pytest.fixture
def service_env():
    """Private Redis keys and RabbitMQ names for one test's instances."""
    redis = redis_config()
    return {
        "REDIS_URL": redis["REDIS_URL"],
        "REDIS_KEY_PREFIX": redis["REDIS_KEY_PREFIX"],
        "WDTEST_EVENTS_EXCHANGE": f"wdapi-test-avail-{uuid.uuid4().hex[:8]}",
        "TRUSTED_PROXIES": "1",
    }


class Figures:
    """Measured figures of the live tier, printed in pytest's summary (tests/e2e/README.md)."""

    def __init__(self):
        self.rows: list[tuple[str, str]] = []

    def add(self, name: str, text: str) -> None:
        self.rows.append((name, text))


FIGURES = Figures()


@pytest.fixture(scope="session")
def figures() -> Figures:
    return FIGURES


def pytest_terminal_summary(terminalreporter):
    if FIGURES.rows:
        terminalreporter.section("fault figures")
        for name, text in FIGURES.rows:
            terminalreporter.write_line(f"{name}: {text}")


@pytest.fixture(scope="session")
def rabbit_vhost():
    require_port("127.0.0.1", 5672, "RabbitMQ")
    if not RabbitVhost.available():
        need("rabbitmqctl is not installed: no private vhost for the live server")
    vhost = RabbitVhost()
    vhost.create()
    try:
        yield vhost
    finally:
        vhost.delete()


def _serve(tmp_path_factory, vhost, api_keys):
    require_port("127.0.0.1", 6379, "Redis")
    server = LiveServer(tmp_path_factory.mktemp("live"), amqp_url=vhost.url, api_keys=api_keys)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def open_server(tmp_path_factory, rabbit_vhost):
    """gunicorn without API keys: writes need none."""
    yield from _serve(tmp_path_factory, rabbit_vhost, ())


@pytest.fixture(scope="session")
def keyed_server(tmp_path_factory, rabbit_vhost):
    """gunicorn with one API key: writes without it are 401."""
    yield from _serve(tmp_path_factory, rabbit_vhost, (API_KEY,))


@pytest.fixture
def server(tmp_path):
    """gunicorn on run:app with 2 workers x 4 threads and a SQLite database of its own."""
    server = Gunicorn(
        tmp_path / "gunicorn.out",
        APP_ENV="test",
        WEB_CONCURRENCY="2",
        GUNICORN_THREADS="4",
        GUNICORN_GRACEFUL_TIMEOUT="15",
        DATABASE_URL=f"sqlite:///{tmp_path / 'live.sqlite3'}",
        LOG_FORMAT="text",
    )
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
