"""Shared fixtures (helpers live in ``tests/helpers``).

Database tests run once per backend: SQLite always, MariaDB/MySQL when
``TEST_DATABASE_URL`` is set (the suite creates that database). A test whose
server is unreachable skips with the reason, or fails when ``REQUIRE_SERVICES=1``.
Each test tier is a directory and a marker of the same name (``-m e2e``); the cluster
tier (``tests/cluster``) runs only when named: ``make test-cluster``.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path

import pytest

from extensions import db
from tests.helpers.apps import copy_sqlite, fresh_app, migrate, recreate_mysql
from tests.helpers.cluster.redis_sentinel import SentinelCluster
from tests.helpers.env import app_env_names
from tests.helpers.rabbit import Broker, require_broker
from tests.helpers.redis_support import cleanup_session_keys
from tests.helpers.require import need

TIERS = ("unit", "services", "api", "e2e", "cluster")
CLUSTER_TIER = Path(__file__).parent / "cluster"


def pytest_ignore_collect(collection_path, config):
    """The cluster tier starts its own clusters (minutes): collected only when named on the
    command line (``make test-cluster``), never by a bare ``pytest`` (``make test``)."""
    if collection_path != CLUSTER_TIER:
        return None
    named = (Path(arg.split("::")[0]).resolve() for arg in config.invocation_params.args)
    return not any(path == CLUSTER_TIER or CLUSTER_TIER in path.parents for path in named)


def pytest_collection_modifyitems(items):
    """Mark every test with its tier, taken from its directory."""
    root = Path(__file__).parent
    for item in items:
        tier = item.path.relative_to(root).parts[0]
        if tier in TIERS:
            item.add_marker(tier)


@pytest.fixture(scope="session", autouse=True)
def _scrubbed_env():
    """Clear every variable the app reads, for the whole session: the shell cannot change a result."""
    with pytest.MonkeyPatch.context() as patch:
        for name in app_env_names():
            patch.delenv(name)
        yield


@pytest.fixture(scope="session", autouse=True)
def _redis_test_keys():
    """Remove every Redis key this session's apps wrote."""
    yield
    cleanup_session_keys()


@pytest.fixture(scope="session")
def sqlite_template(_scrubbed_env, tmp_path_factory) -> Path:
    """A SQLite file migrated once per session; tests get copies of it."""
    path = tmp_path_factory.mktemp("template") / "migrated.sqlite3"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session", params=["sqlite", "mysql"])
def database_url(request, sqlite_template, tmp_path_factory):
    """A migrated, empty database per backend for the whole session."""
    if request.param == "sqlite":
        return copy_sqlite(sqlite_template, tmp_path_factory.mktemp("db") / "test.sqlite3")
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        need("TEST_DATABASE_URL is not set: MySQL backend not tested")
    migrate(recreate_mysql(url))
    return url


@pytest.fixture
def sqlite_url(sqlite_template, tmp_path):
    """A migrated SQLite database of the test's own, for tests that do not depend on the backend."""
    return copy_sqlite(sqlite_template, tmp_path / "one.sqlite3")


@pytest.fixture
def app_config():
    """Extra config for the ``app`` fixture; override in a module or with indirect params."""
    return {}


@pytest.fixture
def app(database_url, app_config):
    """A fresh app per test on each backend."""
    with fresh_app(database_url, **app_config) as app:
        yield app


@pytest.fixture
def sqlite_app(sqlite_url, app_config):
    """A fresh app on SQLite only, for tests about HTTP rather than storage."""
    with fresh_app(sqlite_url, **app_config) as app:
        yield app


@pytest.fixture
def make_app(sqlite_url):
    """Build more apps in a test: ``make_app(url=None, **config)``, on the test's SQLite
    database unless ``url`` is given. Each is cleaned up at teardown, also after a failure."""
    with ExitStack() as stack:

        def make(url: str | None = None, **config):
            return stack.enter_context(fresh_app(url or sqlite_url, **config))

        yield make


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def http(sqlite_app):
    """The test client of ``sqlite_app``."""
    return sqlite_app.test_client()


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
    require_broker()
    client = Broker()
    yield client
    client.close()


@pytest.fixture
def sentinel_group(tmp_path):
    """A Redis master, its replica (reached through a fault proxy) and three sentinels of the
    test's own, stopped by PID afterwards."""
    group = SentinelCluster(tmp_path / "redis", replica_through_proxy=True)
    try:
        yield group.start()
    finally:
        group.stop()
