"""Shared fixtures.

Database tests run once per backend: SQLite always, MariaDB/MySQL when
``TEST_DATABASE_URL`` is set (the suite creates that database). A test whose
server is unreachable skips with the reason, or fails when ``REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import os
import socket

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, delete, text
from sqlalchemy.engine import make_url

from extensions import db
from factory import create_app
from tests.redis_support import cleanup_session_keys, redis_config

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def need(reason: str):
    """Skip with ``reason``, or fail when the CI demands every service."""
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


def reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def test_config(url: str, **extra) -> dict:
    # Each app gets its own Redis key prefix: cached records never leak between tests.
    return {
        "ENV_NAME": "test",
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_ECHO": False,
        **redis_config(),
        **extra,
    }


@pytest.fixture(scope="session", autouse=True)
def _redis_test_keys():
    """Remove every Redis key this session's apps wrote."""
    yield
    cleanup_session_keys()


def _prepare_mysql(url: str) -> str:
    """Create the test database from scratch so the migration runs on an empty schema."""
    parsed = make_url(url)
    if not reachable(parsed.host or "127.0.0.1", parsed.port or 3306):
        need(f"MySQL at {parsed.host}:{parsed.port or 3306} (TEST_DATABASE_URL) is not reachable")
    server = create_engine(parsed.set(database=""), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{parsed.database}`"))
        conn.execute(text(f"CREATE DATABASE `{parsed.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
    server.dispose()
    return url


@pytest.fixture(scope="session", params=["sqlite", "mysql"])
def database_url(request, tmp_path_factory):
    """A migrated, empty database per backend for the whole session."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    else:
        url = os.environ.get("TEST_DATABASE_URL")
        if not url:
            need("TEST_DATABASE_URL is not set: MySQL backend not tested")
        url = _prepare_mysql(url)
    app = create_app(test_config(url))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return app.config["SQLALCHEMY_DATABASE_URI"]


@pytest.fixture
def sqlite_url(tmp_path):
    """A migrated SQLite database for tests that do not depend on the backend."""
    url = f"sqlite:///{tmp_path / 'one.sqlite3'}"
    app = create_app(test_config(url))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url


def _make_app(url: str, config: dict | None = None):
    app = create_app(test_config(url, **(config or {})))
    yield app
    # Per-test isolation: every row any test committed is removed.
    with app.app_context():
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(delete(table))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app_config():
    """Extra config for the ``app`` fixture; override in a module or with indirect params."""
    return {}


@pytest.fixture
def app(database_url, app_config):
    """A fresh app per test on each backend."""
    yield from _make_app(database_url, app_config)


@pytest.fixture
def sqlite_app(sqlite_url, app_config):
    """A fresh app on SQLite only, for tests about HTTP rather than storage."""
    yield from _make_app(sqlite_url, app_config)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield app


@pytest.fixture
def backend(app) -> str:
    with app.app_context():
        return db.engine.dialect.name


@pytest.fixture
def broker():
    """A connection of the test's own to the real RabbitMQ, for declaring and reading queues."""
    from tests.rabbit import Broker, require_broker

    require_broker()
    client = Broker()
    yield client
    client.close()
